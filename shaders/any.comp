// y[m] = some x[m, k] is nonzero (false for K = 0); bool in, bool out
// bindings: 0 out bool (M,), 1 x bool (M, K); see axis.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "axis.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float a = 0.0;
        FOR_COLS(K) a = max(a, X(row * K + col) != 0.0 ? 1.0 : 0.0);
        a = wg_max(a);
        if (TID == 0u) STORE(row, a);
    }
}
