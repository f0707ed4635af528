// deltakv-graph-test: the DeltaKV compressor graph builders and the fused reconstruction op
// on the CPU backend against plain C++ of the same formulas (spec 4.2, 5.2, 5.4), with a side
// file's real layer weights.
//
// usage: deltakv-graph-test MODEL IDENTITY_SIDE_FILE SWIGLU_SIDE_FILE [gpu]
// With "gpu" the weights and the graphs go to the first GPU (CUDA build) instead of the CPU.
// Prints one line per check; exits 1 if any check fails.
#include "llama-deltakv-compressor.h"
#include "llama-deltakv-planner.h"

#include "ggml-deltakv.h"

#include "ggml-alloc.h"
#include "ggml-backend.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstdio>
#include <random>
#include <set>
#include <string>
#include <vector>

static int g_failures = 0;

static void check(bool ok, const std::string & what) {
    printf("%s %s\n", ok ? "ok  " : "FAIL", what.c_str());
    g_failures += ok ? 0 : 1;
}

using matrix = std::vector<float>; // column-major like ggml: element (row r of column c) at c * rows + r

static matrix get(ggml_tensor * t) {
    matrix m(ggml_nelements(t));
    ggml_backend_tensor_get(t, m.data(), 0, ggml_nbytes(t));
    return m;
}

// y = W x for a ggml weight W [in, out] (out columns of length in) and x [in, n]
static matrix matvec(const matrix & w, int64_t in, int64_t out, const matrix & x, int64_t n) {
    matrix y(out * n, 0.0f);
    for (int64_t c = 0; c < n; ++c) {
        for (int64_t o = 0; o < out; ++o) {
            double acc = 0;
            for (int64_t i = 0; i < in; ++i) {
                acc += (double) w[o * in + i] * x[c * in + i];
            }
            y[c * out + o] = (float) acc;
        }
    }
    return y;
}

static float max_abs_diff(const matrix & a, const matrix & b) {
    float m = 0;
    for (size_t i = 0; i < a.size(); ++i) {
        m = std::max(m, std::fabs(a[i] - b[i]));
    }
    return m;
}

static float max_abs(const matrix & a) {
    float m = 0;
    for (float v : a) {
        m = std::max(m, std::fabs(v));
    }
    return m;
}

struct graph_run {
    ggml_backend_t backend;
    ggml_context * ctx;
    ggml_cgraph *  gf;

    explicit graph_run(ggml_backend_t backend) : backend(backend) {
        ggml_init_params ip = { 256 * ggml_tensor_overhead() + ggml_graph_overhead(), nullptr, true };
        ctx = ggml_init(ip);
        gf  = ggml_new_graph(ctx);
    }
    ~graph_run() { ggml_free(ctx); }

    ggml_tensor * input(ggml_type type, int64_t ne0, int64_t ne1) {
        ggml_tensor * t = ggml_new_tensor_2d(ctx, type, ne0, ne1);
        ggml_set_input(t);
        return t;
    }

    // allocates every tensor of the graph (inputs included), sets the inputs, computes
    void compute(const std::vector<ggml_tensor *> & outputs, const std::vector<std::pair<ggml_tensor *, const void *>> & inputs) {
        for (ggml_tensor * o : outputs) {
            ggml_set_output(o);
            ggml_build_forward_expand(gf, o);
        }
        ggml_gallocr_t galloc = ggml_gallocr_new(ggml_backend_get_default_buffer_type(backend));
        GGML_ASSERT(ggml_gallocr_alloc_graph(galloc, gf));
        for (auto & [t, data] : inputs) {
            ggml_backend_tensor_set(t, data, 0, ggml_nbytes(t));
        }
        GGML_ASSERT(ggml_backend_graph_compute(backend, gf) == GGML_STATUS_SUCCESS);
        outputs_cache.clear();
        for (ggml_tensor * o : outputs) {
            outputs_cache.push_back(o->type == GGML_TYPE_I32 ? matrix() : get(o));
            if (o->type == GGML_TYPE_I32) {
                ids.resize(ggml_nelements(o));
                ggml_backend_tensor_get(o, ids.data(), 0, ggml_nbytes(o));
            }
        }
        ggml_gallocr_free(galloc);
    }

    std::vector<matrix>  outputs_cache;
    std::vector<int32_t> ids;
};

int main(int argc, char ** argv) {
    if (argc != 4 && argc != 5) {
        fprintf(stderr, "usage: %s MODEL IDENTITY_SIDE_FILE SWIGLU_SIDE_FILE [gpu]\n", argv[0]);
        return 2;
    }
    const bool gpu = argc == 5 && std::string(argv[4]) == "gpu";
    // relative tolerance: F32 on the CPU; the GPU's F32 matrix products may round through TF32 (10-bit mantissa)
    const float tol = gpu ? 2e-3f : 2e-6f;
    llama_log_set([](ggml_log_level level, const char * text, void *) {
        if (level == GGML_LOG_LEVEL_ERROR) fputs(text, stderr);
    }, nullptr);
    ggml_backend_load_all();
    llama_model_params mp = llama_model_default_params();
    mp.n_gpu_layers = gpu ? -1 : 0;
    llama_model * model = llama_model_load_from_file(argv[1], mp);
    llama_deltakv * identity = model ? llama_deltakv_load(model, argv[2], llama_deltakv_default_params()) : nullptr;
    llama_deltakv * swiglu   = model ? llama_deltakv_load(model, argv[3], llama_deltakv_default_params()) : nullptr;
    if (identity == nullptr || swiglu == nullptr) {
        fprintf(stderr, "cannot load the model or the side files\n");
        return 1;
    }
    ggml_backend_t backend = ggml_backend_init_by_type(gpu ? GGML_BACKEND_DEVICE_TYPE_GPU : GGML_BACKEND_DEVICE_TYPE_CPU, nullptr);
    if (backend == nullptr) {
        fprintf(stderr, "no %s backend\n", gpu ? "GPU" : "CPU");
        return 1;
    }
    printf("backend: %s\n", ggml_backend_name(backend));

    const int64_t kv_dim = identity->kv_dim;
    const int64_t n_ref = 40, n = 64, k = identity->n_neighbors;
    std::mt19937 rng(7);
    std::normal_distribution<float> normal(0.0f, 1.0f);
    matrix x(kv_dim * n), refs(kv_dim * n_ref), mask(n_ref * n);
    for (float & v : x) v = normal(rng);
    for (float & v : refs) v = normal(rng);
    std::vector<int64_t> visible(n); // token c sees references [0, visible[c]): a prefix, as the planner makes it
    for (int64_t c = 0; c < n; ++c) {
        visible[c] = 8 + c * (n_ref - 8) / n + 1;
        for (int64_t r = 0; r < n_ref; ++r) mask[c * n_ref + r] = r < visible[c] ? 0.0f : -INFINITY;
    }

    // 1. nearest references and their mean
    std::vector<int32_t> ids;
    matrix mean;
    {
        graph_run g(backend);
        ggml_tensor * tx = g.input(GGML_TYPE_F32, kv_dim, n);
        ggml_tensor * tr = g.input(GGML_TYPE_F32, kv_dim, n_ref);
        ggml_tensor * tm = g.input(GGML_TYPE_F32, n_ref, n);
        ggml_tensor * top = llama_deltakv_nearest_refs(g.ctx, tx, tr, tm, (int32_t) k);
        ggml_tensor * avg = llama_deltakv_ref_mean(g.ctx, tr, top);
        g.compute({top, avg}, {{tx, x.data()}, {tr, refs.data()}, {tm, mask.data()}});
        ids  = g.ids;
        mean = g.outputs_cache[1];
    }
    bool same_sets = true;
    matrix naive_mean(kv_dim * n, 0.0f);
    for (int64_t c = 0; c < n; ++c) {
        std::vector<std::pair<double, int32_t>> d;
        for (int64_t r = 0; r < visible[c]; ++r) {
            double s = 0;
            for (int64_t i = 0; i < kv_dim; ++i) {
                const double diff = x[c * kv_dim + i] - refs[r * kv_dim + i];
                s += diff * diff;
            }
            d.push_back({s, (int32_t) r});
        }
        std::sort(d.begin(), d.end());
        std::set<int32_t> want, got(ids.begin() + c * k, ids.begin() + (c + 1) * k);
        for (int64_t j = 0; j < k; ++j) {
            want.insert(d[j].second);
            for (int64_t i = 0; i < kv_dim; ++i) naive_mean[c * kv_dim + i] += refs[d[j].second * kv_dim + i] / (float) k;
        }
        same_sets = same_sets && want == got;
    }
    check(same_sets, "nearest references: the same k as brute-force L2 over the visible prefix, for all 64 tokens");
    check(max_abs_diff(mean, naive_mean) < 1e-5f, "reference mean equals the plain mean of those k rows");

    // 2. identity compressor: z = x - mean, reconstruction gives x back
    for (llama_deltakv * dkv : {identity, swiglu}) {
        const bool is_identity = dkv == identity;
        const llama_deltakv_layer & L = dkv->layers[1];
        graph_run g(backend);
        ggml_tensor * tx = g.input(GGML_TYPE_F32, kv_dim, n);
        ggml_tensor * tm = g.input(GGML_TYPE_F32, kv_dim, n);
        ggml_tensor * z  = llama_deltakv_latent(g.ctx, *dkv, L, tx, tm);
        ggml_tensor * xr = llama_deltakv_reconstruct(g.ctx, L, z, tm);
        g.compute({z, xr}, {{tx, x.data()}, {tm, mean.data()}});
        const matrix & gz = g.outputs_cache[0];
        const matrix & gx = g.outputs_cache[1];
        if (is_identity) {
            matrix residual(kv_dim * n);
            for (size_t i = 0; i < residual.size(); ++i) residual[i] = x[i] - mean[i];
            printf("     identity: max |z - (x - mean)| = %g, max |x' - x| = %g (max |x| = %g)\n",
                   max_abs_diff(gz, residual), max_abs_diff(gx, x), max_abs(x));
            check(max_abs_diff(gz, residual) <= tol * max_abs(residual), "identity compressor: latent is x - mean");
            check(max_abs_diff(gx, x) <= tol * max_abs(x), "identity compressor: reconstruction is lossless");
            continue;
        }
        // SwiGLU encoder, linear decoder, by hand
        const int64_t d = dkv->latent_dim, ff = dkv->encoder_ff;
        const matrix w12 = get(L.enc_w12), w3 = get(L.enc_w3), dec = get(L.dec);
        auto encode = [&](const matrix & v) {
            const matrix gu = matvec(w12, kv_dim, 2 * ff, v, n);
            matrix h(ff * n);
            for (int64_t c = 0; c < n; ++c) {
                for (int64_t i = 0; i < ff; ++i) {
                    const float gate = gu[c * 2 * ff + i], up = gu[c * 2 * ff + ff + i];
                    h[c * ff + i] = gate / (1.0f + std::exp(-gate)) * up;
                }
            }
            return matvec(w3, ff, d, h, n);
        };
        const matrix ex = encode(x), em = encode(mean);
        matrix naive_z(d * n);
        for (size_t i = 0; i < naive_z.size(); ++i) naive_z[i] = ex[i] - em[i];
        matrix naive_x = matvec(dec, d, kv_dim, gz, n);
        for (size_t i = 0; i < naive_x.size(); ++i) naive_x[i] += mean[i];
        printf("     swiglu: relative max error z %g, x %g\n", max_abs_diff(gz, naive_z) / max_abs(naive_z),
               max_abs_diff(gx, naive_x) / max_abs(naive_x));
        check(max_abs_diff(gz, naive_z) <= 10 * tol * max_abs(naive_z), "SwiGLU encoder: z = enc(x) - enc(mean), two evaluations");
        check(max_abs_diff(gx, naive_x) <= 10 * tol * max_abs(naive_x), "linear decoder: x = dec(z) + mean");

        // int4 latents (group 32): every dequantised value within half a step of the exact one, plus what
        // storing the group's scale and minimum in bf16 moves it (up to 15 steps of the scale's rounding)
        std::vector<uint32_t> codes(d * n / 8);
        std::vector<ggml_bf16_t> scale(d * n / 32), mn(d * n / 32);
        llama_deltakv_quantize_int4(gz.data(), d * n, 32, codes.data(), scale.data(), mn.data());
        matrix back(d * n);
        llama_deltakv_dequantize_int4(codes.data(), scale.data(), mn.data(), d * n, 32, back.data());
        bool within = true;
        for (int64_t g0 = 0; g0 < d * n; g0 += 32) {
            const float lo = *std::min_element(gz.begin() + g0, gz.begin() + g0 + 32);
            const float hi = *std::max_element(gz.begin() + g0, gz.begin() + g0 + 32);
            const float s32 = (hi - lo) / 15.0f;
            const float bound = 0.5f * (s32 + 1e-6f) + 15.0f * std::fabs(ggml_bf16_to_fp32(scale[g0 / 32]) - s32)
                              + std::fabs(ggml_bf16_to_fp32(mn[g0 / 32]) - lo) + 1e-6f;
            for (int64_t i = g0; i < g0 + 32; ++i) {
                if (std::fabs(back[i] - gz[i]) > bound && within) {
                    printf("     first miss: z[%lld] = %g, dequantised %g, bound %g\n", (long long) i, gz[i], back[i], bound);
                    within = false;
                }
            }
        }
        check(within, "int4 latents of the SwiGLU compressor: each value within half a step (and the bf16 rounding)");
    }

    // 3. one block compressed as the planner schedules it (spec 6.2), then rebuilt from what is stored
    {
        llama_deltakv_plan_params pp;
        pp.n_sink = 8;
        pp.n_recent = 64;
        pp.center_stride = 10;
        llama_deltakv_seq_plan plan(pp);
        plan.append(8 + 3 * 64);
        llama_deltakv_block blk;
        check(plan.compress(blk) && blk.p0 == 8 && blk.size() == 128 && plan.n_refs() == 8 + 13,
              "planner: 200 tokens (sink 8, recent 64) give the block [8, 136) and 13 new centers");
        const int64_t e = blk.size(), n_refs = plan.n_refs();
        matrix rows(kv_dim * plan.n_tokens());
        for (float & v : rows) v = normal(rng);
        matrix sink(rows.begin(), rows.begin() + 8 * kv_dim);
        matrix xb(rows.begin() + blk.p0 * kv_dim, rows.begin() + blk.p1 * kv_dim);
        matrix vis(n_refs * e);
        llama_deltakv_visibility_mask(plan, blk, vis.data());

        graph_run g(backend);
        ggml_tensor * tx = g.input(GGML_TYPE_F32, kv_dim, e);
        ggml_tensor * tr = g.input(GGML_TYPE_F32, kv_dim, 8);
        ggml_tensor * tm = g.input(GGML_TYPE_F32, n_refs, e);
        llama_deltakv_block_graph out = llama_deltakv_compress_block(g.ctx, *identity, identity->layers[1], tx, tr, tm, 10);
        ggml_tensor * rebuilt = llama_deltakv_rebuild(g.ctx, identity->layers[1], out.refs, out.z, out.ids);
        g.compute({out.ids, out.refs, rebuilt}, {{tx, xb.data()}, {tr, sink.data()}, {tm, vis.data()}});
        const matrix & refs_out = g.outputs_cache[1];
        const matrix & x_back   = g.outputs_cache[2];

        bool refs_ok = refs_out.size() == (size_t) (kv_dim * n_refs);
        for (int64_t r = 0; refs_ok && r < n_refs; ++r) {
            const int64_t pos = plan.refs()[r];
            for (int64_t i = 0; i < kv_dim; ++i) refs_ok = refs_ok && refs_out[r * kv_dim + i] == rows[pos * kv_dim + i];
        }
        check(refs_ok, "reference list after the block: the sink rows, then the rows at the planner's center positions");

        bool ids_ok = true;
        for (int64_t c = 0; c < e; ++c) {
            std::vector<std::pair<double, int32_t>> d;
            for (int32_t r = 0; r < plan.n_visible_refs(blk, (int32_t) c); ++r) {
                const int64_t pos = plan.refs()[r];
                double s2 = 0;
                for (int64_t i = 0; i < kv_dim; ++i) {
                    const double diff = xb[c * kv_dim + i] - rows[pos * kv_dim + i];
                    s2 += diff * diff;
                }
                d.push_back({s2, r});
            }
            std::sort(d.begin(), d.end());
            std::set<int32_t> want, got(g.ids.begin() + c * k, g.ids.begin() + (c + 1) * k);
            for (int64_t j = 0; j < k; ++j) want.insert(d[j].second);
            ids_ok = ids_ok && want == got;
        }
        check(ids_ok, "block tokens pick their k nearest among the visible references (a center picks itself)");

        // the visibility mask built on the backend from one count per token equals the planner's dense mask
        matrix counts(e);
        for (int64_t c = 0; c < e; ++c) counts[c] = (float) plan.n_visible_refs(blk, (int32_t) c);
        graph_run gm(backend);
        ggml_tensor * tv = gm.input(GGML_TYPE_F32, 1, e);
        gm.compute({llama_deltakv_prefix_mask(gm.ctx, n_refs, tv)}, {{tv, counts.data()}});
        bool mask_ok = gm.outputs_cache[0].size() == vis.size();
        for (size_t i = 0; mask_ok && i < vis.size(); ++i) {
            mask_ok = vis[i] == 0.0f ? gm.outputs_cache[0][i] == 0.0f : gm.outputs_cache[0][i] <= -1e29f;
        }
        check(mask_ok, "prefix mask from per-token counts: 0 where the planner's mask is 0, -1e30 where it is -inf");
        check(max_abs_diff(x_back, xb) <= tol * max_abs(xb), "identity compressor: the block rebuilt from latents and ids is the block");
    }

    // the fused reconstruction (GGML_OP_DELTAKV_RECON) against plain C++ and against the reference
    // composition of ggml ops it replaces at decode: F16 exact rows, k = 4 references, some tokens centers
    {
        const int64_t dim = 96, n_refs = 30, n = 40, kk = 4;
        std::mt19937 rng(7);
        std::normal_distribution<float> nd;
        matrix dv(dim * n), refs_f(dim * n_refs), center(n, 0.0f);
        std::vector<ggml_fp16_t> refs_h(dim * n_refs);
        std::vector<int32_t> idv(kk * n), rowv(n, 0);
        for (auto & v : dv) v = nd(rng);
        for (size_t i = 0; i < refs_h.size(); ++i) {
            refs_h[i] = ggml_fp32_to_fp16(nd(rng));
            refs_f[i] = ggml_fp16_to_fp32(refs_h[i]);
        }
        for (auto & v : idv) v = (int32_t) (rng() % n_refs);
        for (int64_t i = 0; i < n; i += 3) {
            center[i] = 1.0f;
            rowv[i]   = (int32_t) (rng() % n_refs);
        }
        // every token rebuilt; with centers, theirs replaced by their exact rows
        matrix no_centers(dim * n);
        for (int64_t i = 0; i < n; ++i) {
            for (int64_t e = 0; e < dim; ++e) {
                float sum = 0;
                for (int64_t j = 0; j < kk; ++j) sum += refs_f[idv[i * kk + j] * dim + e];
                no_centers[i * dim + e] = dv[i * dim + e] + sum / kk;
            }
        }
        matrix naive = no_centers;
        for (int64_t i = 0; i < n; ++i) {
            if (center[i] != 0.0f) {
                std::copy_n(refs_f.begin() + rowv[i] * dim, dim, naive.begin() + i * dim);
            }
        }
        graph_run g(backend);
        ggml_tensor * d      = g.input(GGML_TYPE_F32, dim, n);
        ggml_tensor * refs   = g.input(GGML_TYPE_F16, dim, n_refs);
        ggml_tensor * ids    = g.input(GGML_TYPE_I32, kk, n);
        ggml_tensor * rows   = g.input(GGML_TYPE_I32, n, 1);
        ggml_tensor * is_c   = g.input(GGML_TYPE_F32, 1, n);
        ggml_tensor * fused  = ggml_deltakv_recon(g.ctx, d, refs, ids, rows, is_c);
        ggml_tensor * plain  = ggml_deltakv_recon(g.ctx, d, refs, ids, nullptr, nullptr);
        ggml_tensor * xr     = ggml_add(g.ctx, d, llama_deltakv_ref_mean(g.ctx, refs, ids));
        ggml_tensor * blend  = ggml_add(g.ctx, xr, ggml_mul(g.ctx, ggml_sub(g.ctx, ggml_get_rows(g.ctx, refs, rows), xr), is_c));
        g.compute({fused, plain, blend}, {{d, dv.data()}, {refs, refs_h.data()}, {ids, idv.data()}, {rows, rowv.data()},
                                          {is_c, center.data()}});
        check(max_abs_diff(g.outputs_cache[0], naive) <= 1e-5f * max_abs(naive),
              "fused reconstruction: dec(z) + mean of the k F16 references, centers served exactly");
        check(max_abs_diff(g.outputs_cache[1], no_centers) <= 1e-5f * max_abs(no_centers),
              "fused reconstruction without centers: every token rebuilt");
        check(max_abs_diff(g.outputs_cache[0], g.outputs_cache[2]) <= 1e-5f * max_abs(naive),
              "fused reconstruction equals the composition of ggml ops it replaces");
    }

    // the rows a DeltaKV layer attends (GGML_OP_DELTAKV_ROWS) against the composition of ggml ops it
    // replaces: exact rows gathered, rebuilt rows after them, per token, K rotated by ggml_rope_ext, cast to F16
    for (const int mode : {GGML_ROPE_TYPE_NORMAL, GGML_ROPE_TYPE_NEOX}) {
        const bool neox = mode == GGML_ROPE_TYPE_NEOX;
        const int64_t head_dim = 8, n_head_kv = 3, n_embd_k = head_dim * n_head_kv, kv_dim = 2 * n_embd_k;
        const int64_t n_exact = 20, n_att = 5, n_rec = 3, n_tok = 2;
        const int     n_dims = neox ? 8 : 6;                       // NORMAL: the last pair of each head unrotated
        const float   freq_scale = neox ? 0.25f : 1.0f, ext_factor = neox ? 1.0f : 0.0f;
        std::mt19937 rng(11 + mode);
        std::normal_distribution<float> nd;
        std::vector<ggml_fp16_t> exact_h(kv_dim * n_exact);
        for (auto & v : exact_h) v = ggml_fp32_to_fp16(nd(rng));
        matrix recv(kv_dim * n_rec * n_tok), ffv(n_dims / 2);
        for (auto & v : recv) v = nd(rng);
        for (auto & v : ffv) v = 1.0f + 0.5f * (rng() % 4);
        std::vector<int32_t> att_rowsv(n_att * n_tok), att_posv(n_att * n_tok), rec_posv(n_rec * n_tok);
        for (auto & v : att_rowsv) v = (int32_t) (rng() % n_exact);
        for (auto & v : att_posv) v = (int32_t) (rng() % 5000);
        for (auto & v : rec_posv) v = (int32_t) (rng() % 5000);

        graph_run g(backend);
        ggml_tensor * exact = g.input(GGML_TYPE_F16, kv_dim, n_exact);
        ggml_tensor * arows = g.input(GGML_TYPE_I32, n_att * n_tok, 1);
        ggml_tensor * apos  = g.input(GGML_TYPE_I32, n_att * n_tok, 1);
        ggml_tensor * rec   = g.input(GGML_TYPE_F32, kv_dim, n_rec * n_tok);
        ggml_tensor * rpos  = g.input(GGML_TYPE_I32, n_rec * n_tok, 1);
        ggml_tensor * ff    = g.input(GGML_TYPE_F32, n_dims / 2, 1);
        arows = ggml_reshape_1d(g.ctx, arows, n_att * n_tok);
        apos  = ggml_reshape_1d(g.ctx, apos, n_att * n_tok);
        rpos  = ggml_reshape_1d(g.ctx, rpos, n_rec * n_tok);
        ff    = ggml_reshape_1d(g.ctx, ff, n_dims / 2);
        const float base = 10000.0f, attn_factor = 1.0f, beta_fast = 32.0f, beta_slow = 1.0f;
        const int   n_ctx_orig = 4096;
        ggml_tensor * rows = ggml_deltakv_rows(g.ctx, exact, arows, apos, rec, rpos, ff, n_att, n_head_kv, head_dim,
                                               n_dims, mode, n_ctx_orig, base, freq_scale, ext_factor, attn_factor,
                                               beta_fast, beta_slow);
        // the composition: K and V of a [kv_dim, n] F32 matrix, K rotated; then per token exact rows, rebuilt rows
        auto split = [&](ggml_tensor * x, ggml_tensor * pos, ggml_tensor ** k, ggml_tensor ** v) {
            const int64_t n = x->ne[1];
            ggml_tensor * kp = ggml_cont(g.ctx, ggml_view_2d(g.ctx, x, n_embd_k, n, x->nb[1], 0));
            kp = ggml_reshape_3d(g.ctx, kp, head_dim, n_head_kv, n);
            *k = ggml_rope_ext(g.ctx, kp, pos, ff, n_dims, mode, n_ctx_orig, base, freq_scale, ext_factor, attn_factor,
                               beta_fast, beta_slow);
            *v = ggml_cont(g.ctx, ggml_view_2d(g.ctx, x, n_embd_k, n, x->nb[1], n_embd_k * sizeof(float)));
            *v = ggml_reshape_3d(g.ctx, *v, head_dim, n_head_kv, n);
        };
        ggml_tensor *ke, *ve, *kr, *vr;
        split(ggml_get_rows(g.ctx, exact, arows), apos, &ke, &ve);
        split(rec, rpos, &kr, &vr);
        auto per_token = [&](ggml_tensor * a, ggml_tensor * b) {
            return ggml_concat(g.ctx, ggml_reshape_4d(g.ctx, a, head_dim, n_head_kv, n_att, n_tok),
                                      ggml_reshape_4d(g.ctx, b, head_dim, n_head_kv, n_rec, n_tok), 2);
        };
        ggml_tensor * k_ref = per_token(ke, kr);
        ggml_tensor * v_ref = per_token(ve, vr);
        ggml_tensor * r32   = ggml_cast(g.ctx, rows, GGML_TYPE_F32);
        const int64_t n_per = n_att + n_rec;
        ggml_tensor * k_op = ggml_cont(g.ctx, ggml_view_4d(g.ctx, r32, head_dim, n_head_kv, n_per, n_tok,
                                                           head_dim * sizeof(float), r32->nb[1], r32->nb[1] * n_per, 0));
        ggml_tensor * v_op = ggml_cont(g.ctx, ggml_view_4d(g.ctx, r32, head_dim, n_head_kv, n_per, n_tok,
                                                           head_dim * sizeof(float), r32->nb[1], r32->nb[1] * n_per,
                                                           n_embd_k * sizeof(float)));
        g.compute({k_op, k_ref, v_op, v_ref}, {{exact, exact_h.data()}, {arows, att_rowsv.data()}, {apos, att_posv.data()},
                                               {rec, recv.data()}, {rpos, rec_posv.data()}, {ff, ffv.data()}});
        // F16 output: half an ulp of F16 (2^-11) relative, and the GPU's fast trigonometry
        const float rel = 2e-3f;
        check(max_abs_diff(g.outputs_cache[0], g.outputs_cache[1]) <= rel * max_abs(g.outputs_cache[1]),
              std::string("attended rows (") + (neox ? "NeoX pairs, YaRN" : "normal pairs, partial rotation") +
              ", frequency factors): K equals the gathered, rotated, concatenated composition");
        check(max_abs_diff(g.outputs_cache[2], g.outputs_cache[3]) <= rel * max_abs(g.outputs_cache[3]),
              std::string("attended rows (") + (neox ? "NeoX" : "normal") + "): V equals the composition");
    }

    // the rows op rebuilding its compressed tokens itself (ggml_deltakv_rows_recon) against the fused
    // reconstruction followed by the rows op: residual + mean of 4 references, every fifth a center served exactly;
    // and with the ids read in place from a store through slots (ggml_deltakv_rows_recon_slots). NeoX
    // and normal RoPE pairs (the CUDA kernel moves a normal pair in one load)
    for (const int mode : {GGML_ROPE_TYPE_NEOX, 0}) {
        const int64_t head_dim = 8, n_head_kv = 2, kv_dim = 2 * head_dim * n_head_kv;
        const int64_t n_exact = 30, n_att = 6, n_rec = 5, n_tok = 2, k = 4;
        std::mt19937 rng(17);
        std::normal_distribution<float> nd;
        std::vector<ggml_fp16_t> exact_h(kv_dim * n_exact);
        for (auto & v : exact_h) v = ggml_fp32_to_fp16(nd(rng));
        matrix decv(kv_dim * n_rec * n_tok), centerv(n_rec * n_tok);
        for (auto & v : decv) v = nd(rng);
        std::vector<int32_t> att_rowsv(n_att * n_tok), att_posv(n_att * n_tok), rec_posv(n_rec * n_tok),
                             idsv(k * n_rec * n_tok), crowv(n_rec * n_tok);
        for (auto & v : att_rowsv) v = (int32_t) (rng() % n_exact);
        for (auto & v : att_posv) v = (int32_t) (rng() % 3000);
        for (auto & v : rec_posv) v = (int32_t) (rng() % 3000);
        for (auto & v : idsv) v = (int32_t) (rng() % n_exact);
        for (size_t i = 0; i < crowv.size(); ++i) {
            crowv[i]   = (int32_t) (rng() % n_exact);
            centerv[i] = i % 5 == 0 ? 1.0f : 0.0f;
        }
        // the store: token i's ids in column (7 i + 2) mod 13 of 13
        const int64_t n_slots = 13;
        std::vector<int32_t> slotv(n_rec * n_tok);
        matrix storev(k * n_slots, -1.0f);
        for (int64_t i = 0; i < n_rec * n_tok; ++i) {
            slotv[i] = (int32_t) ((7 * i + 2) % n_slots);
            for (int64_t m = 0; m < k; ++m) {
                storev[slotv[i] * k + m] = (float) idsv[i * k + m];
            }
        }
        graph_run g(backend);
        ggml_tensor * exact = g.input(GGML_TYPE_F16, kv_dim, n_exact);
        ggml_tensor * arows = g.input(GGML_TYPE_I32, n_att * n_tok, 1);
        ggml_tensor * apos  = g.input(GGML_TYPE_I32, n_att * n_tok, 1);
        ggml_tensor * dec   = g.input(GGML_TYPE_F32, kv_dim, n_rec * n_tok);
        ggml_tensor * ids   = g.input(GGML_TYPE_I32, k, n_rec * n_tok);
        ggml_tensor * crow  = g.input(GGML_TYPE_I32, n_rec * n_tok, 1);
        ggml_tensor * cen   = g.input(GGML_TYPE_F32, 1, n_rec * n_tok);
        ggml_tensor * rpos  = g.input(GGML_TYPE_I32, n_rec * n_tok, 1);
        ggml_tensor * store = g.input(GGML_TYPE_F32, k, n_slots);
        ggml_tensor * slots = g.input(GGML_TYPE_I32, n_rec * n_tok, 1);
        slots = ggml_reshape_1d(g.ctx, slots, n_rec * n_tok);
        arows = ggml_reshape_1d(g.ctx, arows, n_att * n_tok);
        apos  = ggml_reshape_1d(g.ctx, apos, n_att * n_tok);
        crow  = ggml_reshape_1d(g.ctx, crow, n_rec * n_tok);
        rpos  = ggml_reshape_1d(g.ctx, rpos, n_rec * n_tok);
        auto rows_of = [&](ggml_tensor * r) {
            return ggml_deltakv_rows(g.ctx, exact, arows, apos, r, rpos, nullptr, n_att, n_head_kv, head_dim, head_dim,
                                     mode, 4096, 10000.0f, 1.0f, 0.0f, 1.0f, 32.0f, 1.0f);
        };
        ggml_tensor * two_ops = rows_of(ggml_deltakv_recon(g.ctx, dec, exact, ids, crow, cen));
        ggml_tensor * one_op  = ggml_deltakv_rows_recon(g.ctx, exact, arows, apos, dec, ids, crow, cen, rpos, nullptr,
                                                        n_att, n_head_kv, head_dim, head_dim, mode, 4096,
                                                        10000.0f, 1.0f, 0.0f, 1.0f, 32.0f, 1.0f);
        ggml_tensor * in_place = ggml_deltakv_rows_recon_slots(g.ctx, exact, arows, apos, dec, store, slots, crow, cen,
                                                               rpos, nullptr, n_att, n_head_kv, head_dim, head_dim,
                                                               mode, 4096, 10000.0f, 1.0f, 0.0f, 1.0f, 32.0f, 1.0f);
        g.compute({ggml_cast(g.ctx, one_op, GGML_TYPE_F32), ggml_cast(g.ctx, two_ops, GGML_TYPE_F32),
                   ggml_cast(g.ctx, in_place, GGML_TYPE_F32)},
                  {{exact, exact_h.data()}, {arows, att_rowsv.data()}, {apos, att_posv.data()}, {dec, decv.data()},
                   {ids, idsv.data()}, {crow, crowv.data()}, {cen, centerv.data()}, {rpos, rec_posv.data()},
                   {store, storev.data()}, {slots, slotv.data()}});
        const std::string pairs = mode == GGML_ROPE_TYPE_NEOX ? " (NeoX pairs)" : " (normal pairs)";
        // the same formula in the same order: equal on the CPU; the GPU may contract differently (F16 output)
        check(max_abs_diff(g.outputs_cache[0], g.outputs_cache[1]) <= (gpu ? 2e-3f : 0.0f) * max_abs(g.outputs_cache[1]),
              "attended rows rebuilt in the rows op: equal to the fused reconstruction followed by the rows op "
              "(centers served exactly)" + pairs);
        check(g.outputs_cache[2] == g.outputs_cache[0],
              "attended rows rebuilt with the ids read in place from their store through slots: equal to the rows op "
              "given the ids" + pairs);
    }

    // latents gathered in the decoder's type (ggml_get_rows_as): the rows of a Q4_1 store written as BF16
    // and as F16 equal the F32 gather cast to those types, and a BF16 decoder's product of the BF16 gather equals its
    // product of the F32 gather (which it converts to BF16 itself: on the CPU the same values, so bit-equal)
    {
        const int64_t d = 64, n_slots = 40, n = 24, out = 48;
        std::mt19937 rng(23);
        std::normal_distribution<float> nd;
        matrix zv(d * n_slots), wv(d * out);
        for (auto & v : zv) v = nd(rng);
        for (auto & v : wv) v = nd(rng);
        std::vector<uint8_t> zq(ggml_row_size(GGML_TYPE_Q4_1, d) * n_slots);
        ggml_quantize_chunk(GGML_TYPE_Q4_1, zv.data(), zq.data(), 0, n_slots, d, nullptr);
        std::vector<ggml_bf16_t> wb(d * out);
        ggml_fp32_to_bf16_row(wv.data(), wb.data(), d * out);
        std::vector<int32_t> slotv(n);
        for (auto & v : slotv) v = (int32_t) (rng() % n_slots);
        graph_run g(backend);
        ggml_tensor * store = g.input(GGML_TYPE_Q4_1, d, n_slots);
        ggml_tensor * w     = g.input(GGML_TYPE_BF16, d, out);
        ggml_tensor * slots = g.input(GGML_TYPE_I32, n, 1);
        ggml_tensor * sl    = ggml_reshape_1d(g.ctx, slots, n);
        ggml_tensor * z32   = ggml_get_rows(g.ctx, store, sl);
        ggml_tensor * zb    = ggml_get_rows_as(g.ctx, store, sl, GGML_TYPE_BF16);
        ggml_tensor * zh    = ggml_get_rows_as(g.ctx, store, sl, GGML_TYPE_F16);
        auto f32 = [&](ggml_tensor * t) { return ggml_cast(g.ctx, t, GGML_TYPE_F32); };
        g.compute({f32(zb), f32(ggml_cast(g.ctx, z32, GGML_TYPE_BF16)), f32(zh), f32(ggml_cast(g.ctx, z32, GGML_TYPE_F16)),
                   ggml_mul_mat(g.ctx, w, zb), ggml_mul_mat(g.ctx, w, z32)},
                  {{store, zq.data()}, {w, wb.data()}, {slots, slotv.data()}});
        const auto & o = g.outputs_cache;
        check(o[0] == o[1], "quantized rows gathered as BF16: equal to the F32 gather cast to BF16");
        check(o[2] == o[3], "quantized rows gathered as F16: equal to the F32 gather cast to F16");
        // the GPU may take another kernel for an F32 src1 of 24 columns (same BF16 inputs, another summation order)
        check(max_abs_diff(o[4], o[5]) <= (gpu ? tol : 0.0f) * max_abs(o[5]),
              "a BF16 decoder's product of the BF16 gather: equal to its product of the F32 gather");
    }

    // the top-k of the selection over long rows (ggml_top_k_deterministic; on CUDA a radix select): the same set of k
    // indices as a sort on the host (distinct scores, some
    // -inf as masked candidates are). On the GPU also: the indices in ascending order, and where fewer than k scores
    // are finite (the last row), the -inf ones taken in index order, so that every run chooses the same
    {
        const int64_t n = 20000, k = 2048, rows = 3, n_finite_last = 1500;
        std::mt19937 rng(29);
        std::uniform_real_distribution<float> ud(0.0f, 1.0f);
        matrix sv(n * rows);
        for (size_t i = 0; i < sv.size(); ++i) {
            const int64_t r = (int64_t) i / n, c = (int64_t) i % n;
            const bool masked = r == rows - 1 ? c % 13 >= 1 || c / 13 >= n_finite_last : i % 7 == 3;
            sv[i] = masked ? -INFINITY : ud(rng) + (float) c * 1e-9f;
        }
        const bool ordered = gpu;
        graph_run g(backend);
        ggml_tensor * sc  = g.input(GGML_TYPE_F32, n, rows);
        ggml_tensor * top = ggml_top_k_deterministic(g.ctx, sc, (int) k);
        g.compute({top}, {{sc, sv.data()}});
        bool same = g.ids.size() == (size_t) (k * rows), ascending = same;
        for (int64_t r = 0; r < rows && same; ++r) {
            std::vector<int32_t> want(n);
            for (int64_t i = 0; i < n; ++i) want[i] = (int32_t) i;
            // the k largest, ties in index order
            std::stable_sort(want.begin(), want.end(),
                             [&](int32_t a, int32_t b) { return sv[r * n + a] > sv[r * n + b]; });
            std::vector<int32_t> got(g.ids.begin() + r * k, g.ids.begin() + (r + 1) * k);
            ascending = ascending && std::is_sorted(got.begin(), got.end());
            want.resize(k);
            std::sort(want.begin(), want.end());
            std::sort(got.begin(), got.end());
            if (r < rows - 1 || ordered) {
                same = got == want;
            } else { // the host's partial sort takes any of the -inf ones: the finite ones, and k distinct in all
                int64_t finite = 0;
                for (int32_t c : got) finite += sv[r * n + c] != -INFINITY;
                same = finite == n_finite_last && std::adjacent_find(got.begin(), got.end()) == got.end();
            }
        }
        check(same, "top-k of 2048 among 20000 scores, 3 rows: the same indices as a sort on the host");
        if (ordered) {
            check(ascending, "top-k on the GPU by the radix select: indices in ascending order, ties in index order");
        }
    }

    // the observation layer's candidate scores (GGML_OP_DELTAKV_SCORE) against the composition of ggml ops
    // it replaces: candidates' K gathered, q . k per head, scaled, masked, softmax, maximum over heads, plus the mask.
    // One token scoring every cell in place (some masked), and a batch of tokens each with its own candidate list;
    // more candidates than one block of the CUDA kernels takes. Small heads (CUDA: a lane a head), and Llama-3.1-8B's
    // (CUDA: a warp reads whole K rows, 4 lanes a KV head)
    for (const int64_t shape : {0, 1}) for (const int64_t n_tok : {1, 3}) {
        const int64_t d = shape == 0 ? 16 : 128, n_head = shape == 0 ? 6 : 32, n_head_kv = shape == 0 ? 2 : 8;
        const int64_t n_cells = 700;
        const int64_t n_cand = n_tok == 1 ? n_cells : 530;
        const float   scale = 0.25f;
        std::mt19937 rng(23 + n_tok);
        std::normal_distribution<float> nd;
        std::vector<ggml_fp16_t> k_h(d * n_head_kv * n_cells);
        for (auto & v : k_h) v = ggml_fp32_to_fp16(nd(rng));
        matrix qv(d * n_head * n_tok), maskv(n_cand * n_tok);
        for (auto & v : qv) v = 2.0f * nd(rng);
        std::vector<int32_t> cellv(n_cand * n_tok);
        for (int64_t t = 0; t < n_tok; ++t) {
            for (int64_t c = 0; c < n_cand; ++c) {
                cellv[t * n_cand + c] = n_tok == 1 ? (int32_t) c : (int32_t) (rng() % n_cells);
                maskv[t * n_cand + c] = (c % 5 == 3 || c >= n_cand - 7 * t) ? -INFINITY : 0.0f;
            }
        }

        graph_run g(backend);
        ggml_tensor * k    = g.input(GGML_TYPE_F16, d * n_head_kv, n_cells);
        ggml_tensor * q    = g.input(GGML_TYPE_F32, d * n_head, n_tok);
        ggml_tensor * cell = g.input(GGML_TYPE_I32, n_cand * n_tok, 1);
        ggml_tensor * mask = g.input(GGML_TYPE_F32, n_cand, n_tok);
        ggml_tensor * k3   = ggml_reshape_3d(g.ctx, k, d, n_head_kv, n_cells);
        ggml_tensor * q3   = ggml_reshape_3d(g.ctx, q, d, n_head, n_tok);
        ggml_tensor * cl   = ggml_reshape_1d(g.ctx, cell, n_cand * n_tok);
        ggml_tensor * score = ggml_deltakv_score(g.ctx, q3, k3, cl, mask, scale);

        ggml_tensor * kc = ggml_get_rows(g.ctx, k, cl);                                       // [d*n_head_kv, n_cand*n_tok]
        kc = ggml_permute(g.ctx, ggml_reshape_4d(g.ctx, kc, d, n_head_kv, n_cand, n_tok), 0, 2, 1, 3);
        ggml_tensor * q4 = ggml_permute(g.ctx, ggml_reshape_4d(g.ctx, q, d, n_head, 1, n_tok), 0, 2, 1, 3);
        ggml_tensor * kq = ggml_mul_mat(g.ctx, kc, q4);                                        // [n_cand, 1, n_head, n_tok]
        ggml_mul_mat_set_prec(kq, GGML_PREC_F32);
        kq = ggml_add(g.ctx, ggml_scale(g.ctx, ggml_reshape_3d(g.ctx, kq, n_cand, n_head, n_tok), scale),
                      ggml_reshape_3d(g.ctx, mask, n_cand, 1, n_tok));
        ggml_tensor * p = ggml_cont(g.ctx, ggml_permute(g.ctx, ggml_soft_max(g.ctx, kq), 1, 0, 2, 3));
        p = ggml_pool_1d(g.ctx, ggml_reshape_2d(g.ctx, p, n_head, n_cand * n_tok), GGML_OP_POOL_MAX, (int) n_head,
                         (int) n_head, 0);
        ggml_tensor * ref = ggml_add(g.ctx, ggml_reshape_2d(g.ctx, p, n_cand, n_tok), mask);

        g.compute({score, ref}, {{k, k_h.data()}, {q, qv.data()}, {cell, cellv.data()}, {mask, maskv.data()}});
        const matrix & got = g.outputs_cache[0];
        const matrix & want = g.outputs_cache[1];
        float top = 0.0f, diff = 0.0f;
        bool same_masked = true;
        for (size_t i = 0; i < want.size(); ++i) {
            same_masked = same_masked && (std::isinf(got[i]) == std::isinf(want[i]));
            if (!std::isinf(want[i]) && !std::isinf(got[i])) {
                top  = std::max(top, std::fabs(want[i]));
                diff = std::max(diff, std::fabs(got[i] - want[i]));
            }
        }
        // q is rounded to F16 by the CPU's F16 product (2^-11 relative in each logit); TF32 on the GPU
        check(same_masked && top > 0.0f && diff <= 5e-3f * top,
              std::string("candidate scores (") + (shape == 0 ? "6 heads of 16" : "32 heads of 128") + ", " +
              (n_tok == 1 ? "one token, every cell in place" : "3 tokens, own candidate lists") +
              "): the maximum over heads of each head's softmax, as the composition");
    }

    // each block token's nearest references (GGML_OP_DELTAKV_NEAREST) against the composition of ggml ops
    // it replaces: 2 dot - norms, the prefix mask, a top-k sort of each row
    {
        const int64_t n_ref = 700, n = 40, kv_dim = 24;
        const int     k = 4;
        std::mt19937 rng(31);
        std::normal_distribution<float> nd;
        matrix xv(kv_dim * n), rv(kv_dim * n_ref), visv(n);
        for (auto & v : xv) v = nd(rng);
        for (auto & v : rv) v = nd(rng);
        for (int64_t i = 0; i < n; ++i) {
            visv[i] = (float) (k + rng() % (n_ref - k + 1)); // at least k visible, as the sink guarantees
        }
        graph_run g(backend);
        ggml_tensor * x    = g.input(GGML_TYPE_F32, kv_dim, n);
        ggml_tensor * refs = g.input(GGML_TYPE_F32, kv_dim, n_ref);
        ggml_tensor * vis  = g.input(GGML_TYPE_F32, 1, n);
        ggml_tensor * ids_op  = llama_deltakv_nearest_refs_prefix(g.ctx, x, refs, vis, k);
        g.compute({ids_op}, {{x, xv.data()}, {refs, rv.data()}, {vis, visv.data()}});
        std::vector<int32_t> got = g.ids;
        graph_run g2(backend);
        ggml_tensor * x2    = g2.input(GGML_TYPE_F32, kv_dim, n);
        ggml_tensor * refs2 = g2.input(GGML_TYPE_F32, kv_dim, n_ref);
        ggml_tensor * vis2  = g2.input(GGML_TYPE_F32, 1, n);
        ggml_tensor * ids_ref = llama_deltakv_nearest_refs(g2.ctx, x2, refs2, llama_deltakv_prefix_mask(g2.ctx, n_ref, vis2), k);
        g2.compute({ids_ref}, {{x2, xv.data()}, {refs2, rv.data()}, {vis2, visv.data()}});
        bool same = got.size() == g2.ids.size(), visible_only = true, ordered = true;
        for (int64_t i = 0; same && i < n; ++i) {
            std::vector<int32_t> a(got.begin() + i * k, got.begin() + (i + 1) * k);
            std::vector<int32_t> b(g2.ids.begin() + i * k, g2.ids.begin() + (i + 1) * k);
            auto dist = [&](int32_t r) {
                float s = 0;
                for (int64_t e = 0; e < kv_dim; ++e) {
                    const float dd = xv[i * kv_dim + e] - rv[r * kv_dim + e];
                    s += dd * dd;
                }
                return s;
            };
            for (int j = 0; j < k; ++j) {
                visible_only = visible_only && a[j] < visv[i];
                ordered = ordered && (j == 0 || dist(a[j - 1]) <= dist(a[j]) * (1 + 1e-4f));
            }
            std::sort(a.begin(), a.end());
            std::sort(b.begin(), b.end());
            same = a == b;
        }
        check(same && visible_only && ordered, "nearest references in one op: the same k as the masked product and "
              "top-k sort, all visible, the nearest first (700 references, 40 tokens)");
    }

    // the full layers' mask from each cell's sequence and position (GGML_OP_DELTAKV_MASK) against the
    // rule it follows, written as F32 and as F16 (as flash attention reads it)
    {
        const int64_t n_kv = 1000, n = 6;
        std::mt19937 rng(41);
        matrix csv(n_kv), cpv(n_kv), tsv(n), tpv(n);
        for (int64_t c = 0; c < n_kv; ++c) {
            csv[c] = (float) ((int) (rng() % 4) - 1); // -1: an empty cell
            cpv[c] = (float) (rng() % 5000);
        }
        for (int64_t t = 0; t < n; ++t) {
            tsv[t] = (float) (rng() % 3);
            tpv[t] = (float) (rng() % 5000);
        }
        graph_run g(backend);
        ggml_tensor * cs  = g.input(GGML_TYPE_F32, n_kv, 1);
        ggml_tensor * cp  = g.input(GGML_TYPE_F32, n_kv, 1);
        ggml_tensor * ts  = g.input(GGML_TYPE_F32, 1, n);
        ggml_tensor * tp  = g.input(GGML_TYPE_F32, 1, n);
        ggml_tensor * m32 = ggml_deltakv_mask(g.ctx, cs, cp, ts, tp, GGML_TYPE_F32);
        ggml_tensor * m16 = ggml_cast(g.ctx, ggml_deltakv_mask(g.ctx, cs, cp, ts, tp, GGML_TYPE_F16), GGML_TYPE_F32);
        g.compute({m32, m16}, {{cs, csv.data()}, {cp, cpv.data()}, {ts, tsv.data()}, {tp, tpv.data()}});
        bool same = true;
        int64_t seen = 0;
        for (int64_t t = 0; t < n; ++t) {
            for (int64_t c = 0; c < n_kv; ++c) {
                const bool  see  = csv[c] == tsv[t] && cpv[c] <= tpv[t];
                const float want = see ? 0.0f : -INFINITY;
                same = same && g.outputs_cache[0][t * n_kv + c] == want && g.outputs_cache[1][t * n_kv + c] == want;
                seen += see;
            }
        }
        check(same && seen > 0 && seen < n * n_kv, "full-layer mask from the cells' sequences and positions (F32 and "
              "F16): 0 where a cell holds the token's sequence up to its position, -inf elsewhere (1000 cells, 6 tokens)");
    }

    ggml_backend_free(backend);
    llama_deltakv_free(identity);
    llama_deltakv_free(swiglu);
    llama_model_free(model);
    printf("deltakv graph: %d failures\n", g_failures);
    return g_failures == 0 ? 0 : 1;
}
