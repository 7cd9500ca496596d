// out[0, k] = sum_m g[m, k] * (x[m, k] - mean[m]) * rstd[m]; out[1, k] = sum_m g[m, k]
// bindings: 0 out (2, K), 1 x (M, K), 2 g (M, K), 3 stats (M, 2); one workgroup per column
// vkgrad: in D3 float32
// vkgrad: grid cols
#version 450
#extension GL_GOOGLE_include_directive : require
#include "norm.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    for (uint col = gl_WorkGroupID.x; col < K; col += gl_NumWorkGroups.x) {
        float a = 0.0, b = 0.0;
        for (uint r = TID; r < M; r += WG) {
            uint i = r * K + col;
            float g = IN1(i);
            a += g * (IN0(i) - IN2(2u * r)) * IN2(2u * r + 1u);
            b += g;
        }
        a = wg_sum(a);
        b = wg_sum(b);
        if (TID == 0u) { STORE(col, a); STORE(K + col, b); }
    }
}
