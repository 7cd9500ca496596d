// loss[n] = -w[t[n]] x[n, t[n]], 0 where t[n] == ignore_index (NaN for a bad index)
// bindings: 0 out (N,), 1 x (N, C), 2 t int32 (N,), 3 w (C,); attr 0 ignore_index; axis.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "axis.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    int ig = int(attr(0));
    FOR_ROWS(M) {
        if (TID == 0u) {
            int t = int(in1[row]);
            float v = 0.0;
            if (t != ig) {
                v = (t < 0 || uint(t) >= K) ? uintBitsToFloat(0x7fc00000u)
                                            : -Z(uint(t)) * X(row * K + uint(t));
            }
            STORE(row, v);
        }
    }
}
