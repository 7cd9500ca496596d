// elementwise.glsl: stable helpers of the elementwise family (expm1, log1p, sinh, cosh,
// softplus, mish). Included after map.glsl, whose mathfn.glsl gives sigmoid_.

float expm1_(float x) {
    if (abs(x) < 0.5) {
        // Taylor series to x^8 (next term < 1e-8 relative): exp(x) - 1 would cancel to an
        // absolute error of ~1e-7, a large relative one for small x.
        return x * (1.0 + x * (1.0 / 2.0 + x * (1.0 / 6.0 + x * (1.0 / 24.0 + x * (1.0 / 120.0
            + x * (1.0 / 720.0 + x * (1.0 / 5040.0 + x * (1.0 / 40320.0))))))));
    }
    return exp(x) - 1.0;
}

float log1p_(float x) {
    if (abs(x) < 0.25) {
        // log(1 + x) = 2 atanh(s), s = x / (2 + x): an odd series in |s| < 0.15, while
        // log(1 + x) would lose the low bits of x in the sum 1 + x.
        float s = x / (2.0 + x);
        float z = s * s;
        return 2.0 * s * (1.0 + z * (1.0 / 3.0 + z * (1.0 / 5.0 + z * (1.0 / 7.0
            + z * (1.0 / 9.0 + z * (1.0 / 11.0))))));
    }
    return log(1.0 + x);
}

// exp(a) / 2 for a >= 0 as a product of halves: no overflow below sinh's own (a ~ 89.4).
float half_exp_(float a) {
    float h = exp(0.5 * a);
    return (0.5 * h) * h;
}

float sinh_(float x) {
    float a = abs(x);
    if (a > 20.0) return sign(x) * half_exp_(a);
    // e - 1/e = u + u / (1 + u) with u = expm1(a): no cancellation near 0.
    float u = expm1_(a);
    return sign(x) * 0.5 * (u + u / (1.0 + u));
}

float cosh_(float x) {
    float a = abs(x);
    if (a > 20.0) return half_exp_(a);
    float e = exp(a);
    return 0.5 * (e + 1.0 / e);
}

// log(1 + exp(z)), exp of a non-positive argument only.
float softplus_(float z) {
    return max(z, 0.0) + log1p_(exp(-abs(z)));
}

// t = tanh(softplus(x)) and q = 1 - t^2, from n = exp(-|x|) only. For x > 0:
// t = (1 + 2n) / (1 + 2n + 2n^2); for x <= 0, with m = n^2 + 2n: t = m / (m + 2). q comes from
// the same terms, without the cancellation of 1 - t^2 when t ~ 1.
void mish_parts(float x, out float t, out float q) {
    float n = exp(-abs(x));
    if (x > 0.0) {
        float d = 1.0 + 2.0 * n + 2.0 * n * n;
        float m = n * (1.0 + n);
        t = (1.0 + 2.0 * n) / d;
        q = 4.0 * m * m / (d * d);
    } else {
        float m = n * n + 2.0 * n;
        t = m / (m + 2.0);
        q = 4.0 * (m + 1.0) / ((m + 2.0) * (m + 2.0));
    }
}

// Inverse trigonometry with Cephes' single-precision polynomials (relative error ~1e-7):
// the drivers' asin/acos/atan may be far coarser (lavapipe's asin is off by ~2e-4).
const float PI_ = 3.14159265358979323846;
const float PI_2_ = 1.57079632679489661923;

// asin(a) for a in [0, 0.5]: a + a^3 P(a^2)
float asin_small_(float a) {
    float z = a * a;
    return ((((4.2163199048e-2 * z + 2.4181311049e-2) * z + 4.5470025998e-2) * z
             + 7.4953002686e-2) * z + 1.6666752422e-1) * z * a + a;
}

float asin_(float x) {
    float a = abs(x);
    // asin(a) = pi/2 - 2 asin(sqrt((1 - a) / 2)) above 1/2, where the series converges slowly.
    float r = a > 0.5 ? PI_2_ - 2.0 * asin_small_(sqrt(0.5 * (1.0 - a))) : asin_small_(a);
    return a > 1.0 ? uintBitsToFloat(0x7fc00000u) : sign(x) * r;
}

float acos_(float x) {
    if (abs(x) > 1.0) return uintBitsToFloat(0x7fc00000u);
    if (x > 0.5) return 2.0 * asin_small_(sqrt(0.5 * (1.0 - x)));
    if (x < -0.5) return PI_ - 2.0 * asin_small_(sqrt(0.5 * (1.0 + x)));
    return PI_2_ - asin_small_(abs(x)) * sign(x);
}

float atan_(float x) {
    float a = abs(x);
    float base = 0.0;
    // Reduce to |t| <= tan(pi/8): atan(a) = pi/2 + atan(-1/a) or pi/4 + atan((a-1)/(a+1)).
    float t = a;
    if (a > 2.414213562373095) {
        base = PI_2_;
        t = -1.0 / a;
    } else if (a > 0.4142135623730950) {
        base = 0.25 * PI_;
        t = (a - 1.0) / (a + 1.0);
    }
    float z = t * t;
    float r = base + ((((8.05374449538e-2 * z - 1.38776856032e-1) * z + 1.99777106478e-1) * z
                       - 3.33329491539e-1) * z * t + t);
    return sign(x) * r;
}
