// grad v_j = sum_i p_ij d_ij go_i (d the forward's dropout factor); one workgroup per (b, j);
// out offset B (L + S) E (see attn_bw.glsl)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "attn_bw.glsl"

float weight(uint b, uint j, uint i) {
    uint idx = (b * nL() + i) * nS() + j;
    return PR(idx) * drop_factor(idx);
}
float vec_at(uint b, uint i, uint c) { return GO((b * nL() + i) * nEv() + c); }

void main() { contract(nS(), nL(), 1.0); }
