// out[i] = w[t[i]], 0 where t[i] == ignore_index (NaN for a bad index): nll's mean divisor
// bindings: 0 out (M, K), 1 t int32 (M, K), 2 w (C,); attrs 0 ignore_index, 1 C; axis.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "axis.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    int ig = int(attr(0));
    uint C = uint(attr(1));
    FOR_ROWS(M) {
        FOR_COLS(K) {
            uint i = row * K + col;
            int t = int(in0[i]);
            float v = t == ig ? 0.0 : (t < 0 || uint(t) >= C ? uintBitsToFloat(0x7fc00000u) : Y(uint(t)));
            STORE(i, v);
        }
    }
}
