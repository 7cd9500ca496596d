// common.glsl: workgroup size, dtype codes and the load/store helpers for packed buffers. Each
// kind's header declares its push-constant block (at most 32 uint words = the guaranteed 128
// bytes; floats travel bit-cast), with the names its module in kinds/ declares.
#ifdef NATIVE_F16
// The device has 16-bit storage (vkgrad enables it): an f16 binding is also seen as a
// float16_t array, <name>_h (declared by F16_VIEW beside its uint view), so that one half is
// loaded and stored on its own, without unpacking a word or an atomic. Arithmetic stays f32.
#extension GL_EXT_shader_16bit_storage : require
#define F16_VIEW(b, name) layout(std430, binding = b) buffer name##_H { float16_t name##_h[]; };
#else
#define F16_VIEW(b, name)
#endif
#ifndef WG
#define WG 256
#endif
layout(local_size_x = WG) in;

// Binding dtypes (defines D0..D4, one per binding). bool is stored as an int32 0/1.
#define DT_F32 0
#define DT_F16 1
#define DT_I32 2
#define DT_BOOL 3
#ifndef D0
#define D0 DT_F32
#endif
#ifndef D1
#define D1 DT_F32
#endif
#ifndef D2
#define D2 DT_F32
#endif
#ifndef D3
#define D3 DT_F32
#endif
#ifndef D4
#define D4 DT_F32
#endif

// Element i of a uint buffer holding dtype dt, as f32. dt is a compile-time constant, so the
// unused branches fold away (and never index out of range).
#ifdef NATIVE_F16
#define LOAD_HALF(buf, i) float(buf##_h[i])
#else
#define LOAD_HALF(buf, i) unpackHalf2x16(buf[(i) >> 1])[(i) & 1u]
#endif
#define LOAD(buf, dt, i) ((dt) == DT_F16 ? LOAD_HALF(buf, i) \
    : (dt) == DT_F32 ? uintBitsToFloat(buf[i])                                    \
    : (dt) == DT_I32 ? float(int(buf[i])) : float(buf[i] != 0u))

// One 32-bit word for an f32 / int32 / bool element (float -> int truncates, as NumPy).
uint encode_word(float v, int dt) {
    if (dt == DT_F32) return floatBitsToUint(v);
    if (dt == DT_I32) return uint(int(v));
    return (v != 0.0) ? 1u : 0u;
}

// Store element i of an f16 buffer, race-free whatever the neighbours do. Without 16-bit
// storage a thread cannot write a lone half: clear our half, then set it, each with an atomic
// on the whole word, so a neighbour writing the other half concurrently is safe.
#ifdef NATIVE_F16
#define STORE_HALF_ATOMIC(buf, i, v) { buf##_h[i] = float16_t(v); }
#else
#define STORE_HALF_ATOMIC(buf, i, v) {                                   \
        uint sh_ = ((i) & 1u) * 16u;                                     \
        uint h_ = packHalf2x16(vec2((v), 0.0)) & 0xFFFFu;               \
        atomicAnd(buf[(i) >> 1], ~(0xFFFFu << sh_));                     \
        atomicOr(buf[(i) >> 1], h_ << sh_);                              \
    }
#endif

// Store element i of dtype dt, race-free whatever the neighbours do (f16: atomic half store).
#define STORE_ANY(buf, dt, i, v) {                                       \
        if ((dt) == DT_F16) { STORE_HALF_ATOMIC(buf, i, v) }             \
        else { buf[i] = encode_word((v), (dt)); }                        \
    }

#define INF uintBitsToFloat(0x7f800000u)
