// DeltaKV's ggml ops on the CPU: the reference implementations of GGML_OP_DELTAKV_* (see ggml-deltakv.h), which
// the CUDA kernels are tested against.

#include "ops.h"

#include "ggml-cpu.h"
#include "ggml-impl.h"
#include "simd-mappings.h"
#include "vec.h"

#include <algorithm>
#include <cfloat>
#include <cmath>
#include <vector>

// ggml_compute_forward_deltakv_recon: the reference implementation of GGML_OP_DELTAKV_RECON (see ggml-deltakv.h)

static float deltakv_recon_load(const ggml_tensor * t, const char * row, int64_t e) {
    return t->type == GGML_TYPE_F16 ? GGML_CPU_FP16_TO_FP32(((const ggml_fp16_t *) row)[e]) : ((const float *) row)[e];
}

// token i's k reference ids: column i of ids (I32), or with slots (ggml_deltakv_rows_recon_slots) column slots[i] of
// ids (F32, the store)
static void deltakv_recon_ids(const ggml_tensor * ids, const ggml_tensor * slots, int64_t i, int32_t * out) {
    const int64_t col = slots != nullptr ? ((const int32_t *) slots->data)[i] : i;
    GGML_ASSERT(col >= 0 && col < ids->ne[1]);
    for (int64_t j = 0; j < ids->ne[0]; ++j) {
        const char * p = (const char *) ids->data + j*ids->nb[0] + col*ids->nb[1];
        out[j] = slots != nullptr ? (int32_t) *(const float *) p : *(const int32_t *) p;
    }
}

// row i of the reconstruction into out: the exact row of a center, else d[:, i] + the mean of its k references (the
// order of operations of the reference path: mean, then + d); rows and center may be null (no centers)
static void deltakv_recon_row(const ggml_tensor * d, const ggml_tensor * refs, const ggml_tensor * ids,
                              const ggml_tensor * rows, const ggml_tensor * center, int64_t i, float * out,
                              const ggml_tensor * slots = nullptr) {
    const int64_t ne0 = d->ne[0];
    if (center != nullptr && ((const float *) center->data)[i] != 0.0f) {
        const int32_t r = ((const int32_t *) rows->data)[i];
        GGML_ASSERT(r >= 0 && r < refs->ne[1]);
        const char * src = (const char *) refs->data + r*refs->nb[1];
        for (int64_t e = 0; e < ne0; ++e) {
            out[e] = deltakv_recon_load(refs, src, e);
        }
        return;
    }
    const int64_t k     = ids->ne[0];
    const float   scale = 1.0f / (float) k;
    const char * ref[8];
    int32_t      id[8];
    deltakv_recon_ids(ids, slots, i, id);
    for (int64_t j = 0; j < k; ++j) {
        const int32_t r = id[j];
        GGML_ASSERT(r >= 0 && r < refs->ne[1]);
        ref[j] = (const char *) refs->data + r*refs->nb[1];
    }
    const float * di = (const float *) ((const char *) d->data + i*d->nb[1]);
    for (int64_t e = 0; e < ne0; ++e) {
        float sum = deltakv_recon_load(refs, ref[0], e);
        for (int64_t j = 1; j < k; ++j) {
            sum += deltakv_recon_load(refs, ref[j], e);
        }
        out[e] = di[e] + sum*scale;
    }
}

static void ggml_compute_forward_deltakv_recon(const ggml_compute_params * params, ggml_tensor * dst) {
    const ggml_tensor * d = dst->src[0];
    for (int64_t i = params->ith; i < d->ne[1]; i += params->nth) {
        deltakv_recon_row(d, dst->src[1], dst->src[2], dst->src[3], dst->src[4], i,
                          (float *) ((char *) dst->data + i*dst->nb[1]));
    }
}

// ggml_compute_forward_deltakv_rows: the reference implementation of GGML_OP_DELTAKV_ROWS (see ggml-deltakv.h)

static void ggml_compute_forward_deltakv_rows(const ggml_compute_params * params, ggml_tensor * dst) {
    const ggml_tensor * exact    = dst->src[0];
    const ggml_tensor * att_rows = dst->src[1];
    const ggml_tensor * att_pos  = dst->src[2];
    const ggml_tensor * rec      = dst->src[3];
    const ggml_tensor * rec_pos  = dst->src[4];
    const ggml_tensor * ff       = dst->src[5];

    const int32_t * p = (const int32_t *) dst->op_params;
    const int n_att = p[0], n_head_kv = p[1], head_dim = p[2], n_dims = p[3], mode = p[4], n_ctx_orig = p[5];
    float freq_base, freq_scale, ext_factor, attn_factor, beta_fast, beta_slow;
    memcpy(&freq_base,   p +  6, sizeof(float));
    memcpy(&freq_scale,  p +  7, sizeof(float));
    memcpy(&ext_factor,  p +  8, sizeof(float));
    memcpy(&attn_factor, p +  9, sizeof(float));
    memcpy(&beta_fast,   p + 10, sizeof(float));
    memcpy(&beta_slow,   p + 11, sizeof(float));
    const int n_rec = p[12];

    float corr_dims[2];
    ggml_rope_yarn_corr_dims(n_dims, n_ctx_orig, freq_base, beta_fast, beta_slow, corr_dims);
    const float theta_scale = powf(freq_base, -2.0f/n_dims);
    const bool  neox        = mode == GGML_ROPE_TYPE_NEOX;
    const float * freq      = ff != nullptr ? (const float *) ff->data : nullptr;

    const int64_t kv_dim  = exact->ne[0];
    const int64_t n_per   = n_att + n_rec;
    const int64_t n_out   = dst->ne[1];

    std::vector<float> row(kv_dim);
    std::vector<float> cs(n_dims); // cos and sin of each pair at the row's position, shared by its heads
    for (int64_t r = params->ith; r < n_out; r += params->nth) {
        const int64_t t = r / n_per;
        const int64_t j = r % n_per;
        int32_t pos;
        if (j < n_att) {
            const int32_t e = ((const int32_t *) att_rows->data)[t*n_att + j];
            GGML_ASSERT(e >= 0 && e < exact->ne[1]);
            pos = ((const int32_t *) att_pos->data)[t*n_att + j];
            const char * src = (const char *) exact->data + e*exact->nb[1];
            for (int64_t c = 0; c < kv_dim; ++c) {
                row[c] = deltakv_recon_load(exact, src, c);
            }
        } else {
            const int64_t i = t*n_rec + (j - n_att);
            pos = ((const int32_t *) rec_pos->data)[i];
            if (dst->src[6] != nullptr) {
                // ggml_deltakv_rows_recon: rec is the decoded residual, the row rebuilt here
                deltakv_recon_row(rec, exact, dst->src[6], dst->src[7], dst->src[8], i, row.data(), dst->src[9]);
            } else {
                memcpy(row.data(), (const char *) rec->data + i*rec->nb[1], kv_dim*sizeof(float));
            }
        }
        // K: each head rotated as ggml_rope_ext does; pair i turns by theta_i = pos * base^(-2i/n_dims)
        float theta = (float) pos;
        for (int i = 0; i < n_dims/2; ++i) {
            rope_yarn(theta / (freq != nullptr ? freq[i] : 1.0f), freq_scale, corr_dims, 2*i, ext_factor, attn_factor,
                      &cs[2*i], &cs[2*i + 1]);
            theta *= theta_scale;
        }
        for (int64_t h = 0; h < n_head_kv; ++h) {
            float * x = row.data() + h*head_dim;
            for (int i = 0; i < n_dims/2; ++i) {
                const int a = neox ? i : 2*i;
                const int b = neox ? i + n_dims/2 : 2*i + 1;
                const float x0 = x[a], x1 = x[b];
                x[a] = x0*cs[2*i] - x1*cs[2*i + 1];
                x[b] = x0*cs[2*i + 1] + x1*cs[2*i];
            }
        }
        ggml_fp16_t * out = (ggml_fp16_t *) ((char *) dst->data + r*dst->nb[1]);
        for (int64_t c = 0; c < kv_dim; ++c) {
            out[c] = GGML_CPU_FP32_TO_FP16(row[c]);
        }
    }
}

// ggml_compute_forward_deltakv_score: the reference implementation of GGML_OP_DELTAKV_SCORE (see ggml-deltakv.h). Each thread
// takes a share of the candidates: first the running maximum and sum of every (head, token) softmax over its share,
// then, with every thread's, each of its candidates' maximum over heads of its probability.

static void ggml_compute_forward_deltakv_score(const ggml_compute_params * params, ggml_tensor * dst) {
    const ggml_tensor * q    = dst->src[0];
    const ggml_tensor * k    = dst->src[1];
    const ggml_tensor * cell = dst->src[2];
    const ggml_tensor * mask = dst->src[3];

    const float   scale     = ggml_get_op_params_f32(dst, 0);
    const int64_t d         = q->ne[0];
    const int64_t n_head    = q->ne[1];
    const int64_t n_tok     = q->ne[2];
    const int64_t n_head_kv = k->ne[1];
    const int64_t n_cand    = dst->ne[0];
    const int64_t group     = n_head / n_head_kv;

    const int     ith = params->ith, nth = params->nth;
    const int64_t per = (n_cand + nth - 1) / nth;
    const int64_t c0  = std::min<int64_t>(n_cand, ith*per);
    const int64_t c1  = std::min<int64_t>(n_cand, c0 + per);

    // q in F16, as ggml's F16 x F32 matrix product reads it
    std::vector<ggml_fp16_t> q16(d*n_head*n_tok);
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t h = 0; h < n_head; ++h) {
            const float * src = (const float *) ((const char *) q->data + h*q->nb[1] + t*q->nb[2]);
            for (int64_t e = 0; e < d; ++e) {
                q16[(t*n_head + h)*d + e] = GGML_CPU_FP32_TO_FP16(src[e]);
            }
        }
    }
    const int32_t * cells = (const int32_t *) cell->data;
    const float   * masks = (const float *) mask->data;
    auto logit = [&](int64_t t, int64_t h, int64_t c) {
        const int32_t e = cells[t*n_cand + c];
        GGML_ASSERT(e >= 0 && e < k->ne[2]);
        ggml_fp16_t * kr = (ggml_fp16_t *) ((char *) k->data + e*k->nb[2] + (h/group)*k->nb[1]); // only read
        float s;
        ggml_vec_dot_f16((int) d, &s, 0, kr, 0, q16.data() + (t*n_head + h)*d, 0, 1);
        return s*scale + masks[t*n_cand + c];
    };

    // (max, sum) of this thread's share, per (head, token)
    float * part = (float *) params->wdata;
    float * mine = part + 2*n_head*n_tok*ith;
    for (int64_t t = 0; t < n_tok; ++t) {
        for (int64_t h = 0; h < n_head; ++h) {
            float m = -INFINITY, l = 0.0f;
            for (int64_t c = c0; c < c1; ++c) {
                if (masks[t*n_cand + c] == -INFINITY) {
                    continue;
                }
                const float x = logit(t, h, c);
                if (x > m) {
                    l = l*expf(m - x) + 1.0f;
                    m = x;
                } else {
                    l += expf(x - m);
                }
            }
            mine[2*(t*n_head + h)]     = m;
            mine[2*(t*n_head + h) + 1] = l;
        }
    }
    ggml_barrier(params->threadpool);

    std::vector<float> big_m(n_head*n_tok, -INFINITY), big_l(n_head*n_tok, 0.0f);
    for (int j = 0; j < nth; ++j) {
        const float * pj = part + 2*n_head*n_tok*j;
        for (int64_t i = 0; i < n_head*n_tok; ++i) {
            const float m = pj[2*i], l = pj[2*i + 1];
            if (l == 0.0f) {
                continue;
            }
            const float mm = std::max(big_m[i], m);
            big_l[i] = big_l[i]*expf(big_m[i] - mm) + l*expf(m - mm);
            big_m[i] = mm;
        }
    }
    for (int64_t t = 0; t < n_tok; ++t) {
        float * out = (float *) ((char *) dst->data + t*dst->nb[1]);
        for (int64_t c = c0; c < c1; ++c) {
            const float mc = masks[t*n_cand + c];
            float best = 0.0f;
            if (mc != -INFINITY) {
                for (int64_t h = 0; h < n_head; ++h) {
                    const int64_t i = t*n_head + h;
                    best = std::max(best, expf(logit(t, h, c) - big_m[i]) / big_l[i]);
                }
            }
            out[c] = best + mc;
        }
    }
}

// ggml_compute_forward_deltakv_nearest: the reference implementation of GGML_OP_DELTAKV_NEAREST (see ggml-deltakv.h)

static void ggml_compute_forward_deltakv_nearest(const ggml_compute_params * params, ggml_tensor * dst) {
    const ggml_tensor * dot     = dst->src[0];
    const float       * norms   = (const float *) dst->src[1]->data;
    const float       * visible = (const float *) dst->src[2]->data;

    const int     k     = ggml_get_op_params_i32(dst, 0);
    const int64_t n_ref = dot->ne[0];
    const int64_t n     = dot->ne[1];

    std::vector<std::pair<float, int32_t>> best; // (score, reference), the best first; a lower index wins a tie
    for (int64_t i = params->ith; i < n; i += params->nth) {
        const float * d = (const float *) ((const char *) dot->data + i*dot->nb[1]);
        best.clear();
        for (int64_t r = 0; r < n_ref; ++r) {
            const float s = (2.0f*d[r] - norms[r]) + ((float) r >= visible[i] ? -1e30f : 0.0f);
            if ((int) best.size() == k && s <= best.back().first) {
                continue;
            }
            auto at = std::find_if(best.begin(), best.end(), [s](const std::pair<float, int32_t> & b) { return s > b.first; });
            best.insert(at, { s, (int32_t) r });
            if ((int) best.size() > k) {
                best.pop_back();
            }
        }
        int32_t * out = (int32_t *) ((char *) dst->data + i*dst->nb[1]);
        for (int j = 0; j < k; ++j) {
            out[j] = best[j].second;
        }
    }
}

// ggml_compute_forward_deltakv_mask: the reference implementation of GGML_OP_DELTAKV_MASK (see ggml-deltakv.h)

static void ggml_compute_forward_deltakv_mask(const ggml_compute_params * params, ggml_tensor * dst) {
    const float * cell_seq = (const float *) dst->src[0]->data;
    const float * cell_pos = (const float *) dst->src[1]->data;
    const float * tok_seq  = (const float *) dst->src[2]->data;
    const float * tok_pos  = (const float *) dst->src[3]->data;

    const int64_t n_kv = dst->ne[0];
    const int64_t n    = dst->ne[1];
    const bool    f16  = dst->type == GGML_TYPE_F16;
    const ggml_fp16_t see16 = GGML_CPU_FP32_TO_FP16(0.0f), hide16 = GGML_CPU_FP32_TO_FP16(-INFINITY);

    for (int64_t t = params->ith; t < n; t += params->nth) {
        char * row = (char *) dst->data + t*dst->nb[1];
        for (int64_t c = 0; c < n_kv; ++c) {
            const bool see = cell_seq[c] == tok_seq[t] && cell_pos[c] <= tok_pos[t];
            if (f16) {
                ((ggml_fp16_t *) row)[c] = see ? see16 : hide16;
            } else {
                ((float *) row)[c] = see ? 0.0f : -INFINITY;
            }
        }
    }
}

void ggml_compute_forward_deltakv(const ggml_compute_params * params, ggml_tensor * dst) {
    switch (dst->op) {
        case GGML_OP_DELTAKV_RECON:   ggml_compute_forward_deltakv_recon(params, dst);   break;
        case GGML_OP_DELTAKV_ROWS:    ggml_compute_forward_deltakv_rows(params, dst);    break;
        case GGML_OP_DELTAKV_SCORE:   ggml_compute_forward_deltakv_score(params, dst);   break;
        case GGML_OP_DELTAKV_NEAREST: ggml_compute_forward_deltakv_nearest(params, dst); break;
        case GGML_OP_DELTAKV_MASK:    ggml_compute_forward_deltakv_mask(params, dst);    break;
        default: GGML_ABORT("not a DeltaKV op: %s", ggml_op_name(dst->op));
    }
}
