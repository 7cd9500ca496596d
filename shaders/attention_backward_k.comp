// grad k_j = scale * sum_i dz_ij q_i, dz_ij = p_ij (d_ij go_i . v_j - D_i); one workgroup per
// (b, j); out offset B L E (see attn_bw.glsl)
#version 450
#extension GL_GOOGLE_include_directive : require
#include "attn_bw.glsl"

float weight(uint b, uint j, uint i) { return dz(b, i, j); }
float vec_at(uint b, uint i, uint c) { return QQ((b * nL() + i) * nE() + c); }

void main() { contract(nS(), nL(), attn_scale()); }
