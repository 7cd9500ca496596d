// out = y * (g - sum(g * y)) per row
// bindings: 0 out (M, K), 1 y = softmax output, 2 g; see rowop.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "rowop.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    FOR_ROWS(M) {
        float s = 0.0;
        FOR_COLS(K) { uint i = row * K + col; s += X(i) * Y(i); }
        s = wg_sum(s);
        FOR_COLS(K) { uint i = row * K + col; float y = X(i); STORE(i, y * (Y(i) - s)); }
    }
}
