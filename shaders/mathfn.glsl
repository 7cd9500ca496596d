// mathfn.glsl: numerically stable activations and an erf accurate to ~1e-7 (f32).

float sigmoid_(float x) {
    // exp of a non-positive argument only: no overflow at |x| ~ 80.
    if (x >= 0.0) return 1.0 / (1.0 + exp(-x));
    float e = exp(x);
    return e / (1.0 + e);
}

float tanh_(float x) {
    float a = abs(x);
    if (a < 0.625) {
        // Cephes tanhf polynomial: (1 - e)/(1 + e) loses relative accuracy near 0.
        float z = x * x;
        return ((((-5.70498872745e-3 * z + 2.06390887954e-2) * z - 5.37397155531e-2) * z
                 + 1.33314422036e-1) * z - 3.33332819422e-1) * z * x + x;
    }
    float e = exp(-2.0 * a);  // GLSL tanh may compute inf/inf at |x| > ~44
    return sign(x) * (1.0 - e) / (1.0 + e);
}

// erfc(a) for a >= 0: Numerical Recipes' Chebyshev fit, fractional error < 1.2e-7.
float erfc_pos(float a) {
    float t = 1.0 / (1.0 + 0.5 * a);
    // -a^2 = -hi^2 - (a - hi)(a + hi) with hi^2 exact: rounding a*a in f32 would cost ~1e-6
    // relative in the tail (exp amplifies the absolute error of its argument).
    float hi = uintBitsToFloat(floatBitsToUint(a) & 0xFFFFF000u);
    return t * exp(-(a - hi) * (a + hi)) * exp(-hi * hi - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418
        + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587
        + t * (-0.82215223 + t * 0.17087277)))))))));
}

float erf_(float x) {
    float a = abs(x);
    if (a < 1.0) {
        // Cephes erff: x * P(x^2), relative error ~1e-7 (no 1 - erfc cancellation near 0).
        float z = x * x;
        return x * ((((((7.853861353153693e-5 * z - 8.010193625184903e-4) * z
                        + 5.188327685732524e-3) * z - 2.685381193529856e-2) * z
                        + 1.128358514861418e-1) * z - 3.761262582423300e-1) * z
                        + 1.128379165726710);
    }
    // erfc <= 0.16 here, so 1 - erfc keeps erfc's relative accuracy.
    return sign(x) * (1.0 - erfc_pos(a));
}

// 1 + erf(z) = erfc(-z): for z < -0.5 computed directly, without the 1 - (1 - r) cancellation
// that would zero gelu's negative tail.
float one_plus_erf(float z) {
    return z < -0.5 ? erfc_pos(-z) : 1.0 + erf_(z);
}

const float SQRT1_2 = 0.70710678118654752;
const float INV_SQRT_2PI = 0.39894228040143268;
const float GELU_K = 0.79788456080286536;  // sqrt(2/pi)
const float GELU_C = 0.044715;
