// C[b] = op(A[b]) @ op(B[b]); op transposes a stored operand when ta/tb; batch 1 broadcasts
// bindings: 0 C (B, M, N), 1 A, 2 B; push batch, M, N, K, sa/sb (batch strides of A/B, 0: broadcast), ta, tb
// vkgrad: zero fill
// vkgrad: coopmat matmul_coopmat matmul_coopmat_emulated
#version 450
#extension GL_GOOGLE_include_directive : require
#define WG 256
#include "common.glsl"

// Push constants (kinds/ declares the same names in the same order).
layout(push_constant) uniform PC { uint batch; uint M; uint N; uint K; uint sa; uint sb; uint ta; uint tb; } pc;

layout(std430, binding = 0) buffer Cb { uint c_[]; };
F16_VIEW(0, c_)
layout(std430, binding = 1) buffer Ab { uint a_[]; };
F16_VIEW(1, a_)
layout(std430, binding = 2) buffer Bb { uint b_[]; };
F16_VIEW(2, b_)

// 64x64 output tile per workgroup, K in steps of 16; each of the 256 threads owns a 4x4
// micro-tile (4 consecutive columns, so f16 pairs within it are whole words).
#define BM 64u
#define BN 64u
#define BK 16u
shared float As[BK][BM + 1u];  // +1: avoid shared-memory bank conflicts on the column walk
shared float Bs[BK][BN + 1u];

void main() {
    uint batch = pc.batch, M = pc.M, N = pc.N, K = pc.K;
    uint sa = pc.sa, sb = pc.sb;
    bool ta = pc.ta != 0u, tb = pc.tb != 0u;
    uint tid = gl_LocalInvocationID.x;
    uint tx = tid % 16u, ty = tid / 16u;
    // Grid-stride over batch (z), row tiles (y) and column tiles (x).
    for (uint bz = gl_WorkGroupID.z; bz < batch; bz += gl_NumWorkGroups.z) {
    for (uint m0 = gl_WorkGroupID.y * BM; m0 < M; m0 += gl_NumWorkGroups.y * BM) {
    for (uint n0 = gl_WorkGroupID.x * BN; n0 < N; n0 += gl_NumWorkGroups.x * BN) {
        float acc[4][4];
        for (uint i = 0u; i < 4u; ++i) for (uint j = 0u; j < 4u; ++j) acc[i][j] = 0.0;
        uint abase = bz * sa, bbase = bz * sb;
        for (uint k0 = 0u; k0 < K; k0 += BK) {
            for (uint l = 0u; l < 4u; ++l) {
                uint e = tid + l * WG;  // 0..1023 = BK * BM elements per tile
                // Walk the contiguous axis of the stored operand fastest (coalesced loads).
                uint kk = ta ? e / BM : e % BK;
                uint mm = ta ? e % BM : e / BK;
                uint gm = m0 + mm, gk = k0 + kk;
                float av = 0.0;
                if (gm < M && gk < K) {
                    uint idx = abase + (ta ? gk * M + gm : gm * K + gk);
                    av = LOAD(a_, D1, idx);
                }
                As[kk][mm] = av;
                kk = tb ? e % BK : e / BN;
                uint nn = tb ? e / BK : e % BN;
                uint gn = n0 + nn;
                gk = k0 + kk;
                float bv = 0.0;
                if (gn < N && gk < K) {
                    uint idx = bbase + (tb ? gn * K + gk : gk * N + gn);
                    bv = LOAD(b_, D2, idx);
                }
                Bs[kk][nn] = bv;
            }
            barrier();
            for (uint kk = 0u; kk < BK; ++kk) {
                float av[4], bv[4];
                for (uint i = 0u; i < 4u; ++i) av[i] = As[kk][ty * 4u + i];
                for (uint j = 0u; j < 4u; ++j) bv[j] = Bs[kk][tx * 4u + j];
                for (uint i = 0u; i < 4u; ++i)
                    for (uint j = 0u; j < 4u; ++j) acc[i][j] += av[i] * bv[j];
            }
            barrier();
        }
        for (uint i = 0u; i < 4u; ++i) {
            uint r = m0 + ty * 4u + i;
            if (r >= M) break;
            uint j = 0u;
            while (j < 4u) {
                uint c = n0 + tx * 4u + j;
                if (c >= N) break;
                uint fi = bz * M * N + r * N + c;
#if D0 == DT_F16
                if ((fi & 1u) == 0u && j + 1u < 4u && c + 1u < N) {
                    // Both halves of this word are ours: one plain store.
                    c_[fi >> 1] = packHalf2x16(vec2(acc[i][j], acc[i][j + 1u]));
                    j += 2u;
                    continue;
                }
                STORE_HALF_ATOMIC(c_, fi, acc[i][j])
#else
                c_[fi] = encode_word(acc[i][j], D0);
#endif
                j += 1u;
            }
        }
    }}}
}
