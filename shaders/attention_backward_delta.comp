// D_i = sum_j p_ij d_ij (go_i . v_j), d the forward's dropout factor; one workgroup per (b, i).
// Writes binding 6 (the f32 workspace D (B, L)); see attn_bw.glsl
#version 450
#extension GL_GOOGLE_include_directive : require
#include "attn_bw.glsl"

void main() {
    uint L = nL(), S = nS();
    FOR_ROWS(nB() * L) {
        float s = 0.0;
        FOR_COLS(S) {
            uint idx = row * S + col;
            float p = PR(idx);
            if (p != 0.0) s += p * ddp(row / L, row % L, col, idx);
        }
        s = wg_sum(s);
        if (TID == 0u) delta_[row] = floatBitsToUint(s);
    }
}
