// out[n, c] = -w[t[n]] g[n] where c == t[n] != ignore_index, else 0
// bindings: 0 out (N, C), 1 x (N, C) (shape only), 2 t int32 (N,), 3 w (C,), 4 g (N,); attr 0
// ignore_index; see axis.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "axis.glsl"
void main() {
    uint M = pc.M, K = pc.K;
    int ig = int(attr(0));
    FOR_ROWS(M) {
        int t = int(in1[row]);
        bool on = t != ig && t >= 0 && uint(t) < K;
        float v = on ? -Z(uint(t)) * W(row) : 0.0;
        FOR_COLS(K) STORE(row * K + col, (on && col == uint(t)) ? v : 0.0);
    }
}
