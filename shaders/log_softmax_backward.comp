// out = g - exp(y) * sum(g) per row
// bindings: 0 out (M, K), 1 y = log_softmax output, 2 g; see rowop.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rowop.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float s = 0.0;
        FOR_COLS(K) s += Y(row * K + col);
        s = wg_sum(s);
        FOR_COLS(K) { uint i = row * K + col; STORE(i, Y(i) - exp(X(i)) * s); }
    }
}
