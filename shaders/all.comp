// y[m] = every x[m, k] is nonzero (true for K = 0); bool in, bool out
// bindings: 0 out bool (M,), 1 x bool (M, K); see axis.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "axis.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float a = 1.0;
        FOR_COLS(K) a = min(a, X(row * K + col) != 0.0 ? 1.0 : 0.0);
        a = wg_min(a);
        if (TID == 0u) STORE(row, a);
    }
}
