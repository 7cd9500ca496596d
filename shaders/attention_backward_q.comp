// grad q_i = scale * sum_j dz_ij k_j, dz_ij = p_ij (d_ij go_i . v_j - D_i); one workgroup per
// (b, i); out offset 0 (see attn_bw.glsl)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "attn_bw.glsl"

float weight(uint b, uint i, uint j) { return dz(b, i, j); }
float vec_at(uint b, uint j, uint c) { return KK((b * nS() + j) * nE() + c); }

void main() { contract(nL(), nS(), attn_scale()); }
