#pragma once

// DeltaKV attention's input: the full layers' inputs plus what each token of a ubatch attends in the DeltaKV layers,
// planned on the host when the graph is built or checked for reuse, and set before it runs. A DeltaKV layer attends
// over [sink | raw buffer | reconstructed compressed tokens] (DeltaKV spec 6.1, 6.3). Which compressed tokens are
// reconstructed:
//   - none while no sequence of the ubatch has compressed history (exact attention);
//   - all of them for a ubatch that continues a prompt (spec 6.1, late HF pipeline) and in the
//     reconstruct-all test mode;
//   - at decode (one token per sequence), the top-k chosen by the observation layer (spec 6.3).
// Centers (reference tokens) of the compressed history keep their exact rows and have no latent: when
// attended they are served exactly (spec 11.5, as the paper-era engine did).

#include "llama-graph.h"

#include "ggml-cpp.h"

#include <vector>

class llama_kv_cache_deltakv_context;

class llm_graph_input_attn_kv_deltakv : public llm_graph_input_attn_kv {
public:
    enum recon_mode {
        RECON_NONE,
        RECON_ALL,
        RECON_TOPK,
    };

    llm_graph_input_attn_kv_deltakv(
            const llama_hparams & hparams,
            const llama_cparams & cparams,
            const llama_kv_cache_deltakv_context * mctx_dkv);

    void set_input(const llama_ubatch * ubatch) override;

    // plans the new ubatch; the graph is reused when the plan has the shapes it was built for (the exact rows
    // attended are padded to a multiple of 256, so decode keeps its shapes between compression events)
    bool can_reuse(const llm_graph_params & params) override;

    // host side of the inputs, planned when the graph is built or checked for reuse
    void plan(const llama_ubatch & ubatch);

    // creates the input tensors for the plan: decode's (RECON_TOPK) in a buffer of their own on the DeltaKV
    // layers' device when it can be had, the others (and decode's otherwise) as graph inputs in ctx
    void build_inputs(ggml_context * ctx);

    bool is_full_layer(int32_t il) const;

    // the memory context of the ubatch last planned (valid while that ubatch is processed)
    const llama_kv_cache_deltakv_context * mctx_dkv;
    bool planned_for_reserve = false; // the last plan was the worst-case reserve's

    recon_mode mode   = RECON_NONE;
    int32_t    n_att  = 0; // exact rows attended (RECON_TOPK: by each token, padded to the longest)
    int32_t    n_sel  = 0; // reconstructed tokens attended (RECON_ALL)
    int32_t    n_top  = 0; // top-k per token (RECON_TOPK)
    int32_t    n_kv   = 0; // full-layer cells (RECON_TOPK)
    int32_t    n_cand = 0; // candidates scored per token: n_kv for one token, its own list's (padded) in a batch
    int32_t    n_tok  = 0;

    // RECON_NONE: the exact rows attended are a run of consecutive rows (a prompt on rows handed out in order)
    // from this one, read in place by views instead of gathered; -1 otherwise
    int32_t    att_first = -1;
    // the [rows x tokens] mask made in F16, as flash attention reads it (RECON_NONE with flash attention; the
    // other modes concatenate it with F32 masks of the rebuilt tokens)
    bool       att_mask_f16 = false;
    // RECON_NONE: one sequence's rows in position order, so each token sees a prefix of them; the mask is then made
    // on the backend from each prefix's length (a prompt's [rows x tokens] mask is the largest host input: filled,
    // copied and uploaded for every batch it cost a 32K prompt on the H200 about a second of the GPU waiting)
    bool       att_prefix = false;
    // the full layers' mask made on the backend from the memory's cell table (ggml_deltakv_mask) instead of the
    // [cells x tokens] host mask, in prompt batches and at decode; not with cells shared by sequences
    bool       cell_mask = false;
    // decode of a batch: each token's candidate list and its length go up, their slots, positions and rows are
    // gathered from the memory's candidate table; not with cells shared by sequences
    bool       cand_gather = false;

    ggml_tensor * write_rows = nullptr; // I64 [n_tok]           exact rows of the new tokens
    ggml_tensor * neg_pos    = nullptr; // I32 [n_tok]           -pos, to undo RoPE
    ggml_tensor * att_rows   = nullptr; // I32 [n_att] (RECON_TOPK: [n_att * n_tok], token by token)
    ggml_tensor * att_pos    = nullptr; // I32 like att_rows
    ggml_tensor * att_mask   = nullptr; // F32 [n_att, n_tok] (F16 if att_mask_f16); nullptr with att_prefix
    ggml_tensor * att_seen   = nullptr; // F32 [1, n_tok]        att_prefix: how many of the rows each token sees
    ggml_tensor * tok_seq_f  = nullptr; // F32 [1, n_tok]        cell_mask: each token's sequence
    ggml_tensor * tok_pos_f  = nullptr; // F32 [1, n_tok]        cell_mask: each token's position
    ggml_tensor * all_slots  = nullptr; // I32 [n_sel]           RECON_ALL
    ggml_tensor * all_pos    = nullptr; // I32 [n_sel]
    ggml_tensor * all_mask   = nullptr; // F32 [n_sel, n_tok]
    // RECON_TOPK: for one token, views of the memory's candidate table (every cell, in place); in a batch, inputs
    ggml_tensor * cand_cell  = nullptr; // I32 [n_cand*n_tok]    RECON_TOPK: the cell of each candidate
    ggml_tensor * cand_count = nullptr; // F32 [1, n_tok]        cand_gather: how many of each token's list are its own
    ggml_tensor * cand_mask  = nullptr; // F32 [n_cand, n_tok]   candidates for scoring
    ggml_tensor * cand_valid = nullptr; // F32 [1, n_cand, n_tok] 0 for a candidate, -inf otherwise
    // cand_gather: the tables whole, [1, cells], read at the chosen candidates' cells
    ggml_tensor * cell_slot  = nullptr; // I32 [1, n_cand, n_tok] latent slot of each candidate, for each token
    ggml_tensor * cell_pos   = nullptr; // I32 [1, n_cand, n_tok]
    ggml_tensor * cell_row   = nullptr; // I32 [1, n_cand, n_tok] exact row of a center
    ggml_tensor * cell_exact = nullptr; // F32 [1, n_cand, n_tok] 1 for a center (served exactly), else 0

    // set while the graph is built by the last observation layer, used by the DeltaKV layers after it
    ggml_tensor * sel_slots = nullptr; // I32 [n_top*n_tok]
    ggml_tensor * sel_pos   = nullptr; // I32 [n_top*n_tok]
    ggml_tensor * sel_rows  = nullptr; // I32 [n_top*n_tok]
    ggml_tensor * sel_exact = nullptr; // F32 [1, n_top*n_tok]
    ggml_tensor * sel_valid = nullptr; // F32 [n_top, n_tok]     0 for a choice, -inf for a pick beyond the candidates

    // the mask of [exact rows | rebuilt tokens] in flash attention's layout, the same for every DeltaKV layer that
    // follows one observation layer: made once for the rebuilt tokens' mask it was made with
    ggml_tensor * attn_mask(ggml_context * ctx, ggml_tensor * rmask, bool f16);

    // set by llama_deltakv_build_inp_attn: synchronised before decode's inputs go up, as the scheduler does
    // before it copies inputs (the graph before may still be reading them)
    ggml_backend_sched_t sched = nullptr;

private:
    ggml_tensor * attn_mask_cur  = nullptr;

    // Decode's inputs on the device, uploaded in one copy: through the scheduler every input is a copy and a
    // stream synchronisation of its own, and more than GGML_SCHED_MAX_SPLIT_INPUTS of them split the graph (two
    // CUDA graphs a step instead of one).
    ggml_context_ptr        dev_ctx;
    ggml_backend_buffer_ptr dev_buf;
    ggml_tensor *           dev_all = nullptr; // I8 [bytes]: the whole buffer
    std::vector<uint8_t>    dev_host;          // its image on the host, filled by set_input()

    void make_input_tensors(ggml_context * ctx);
    void make_inputs(ggml_context * ctx, bool graph_inputs);
    void make_table_views(ggml_context * ctx);
    void make_cell_mask(ggml_context * ctx);
    void make_cand_gathers(ggml_context * ctx);
    bool make_device_inputs(ggml_backend_buffer_type_t buft);

    template <typename T>
    void set_data(ggml_tensor * t, const std::vector<T> & v);
    ggml_tensor * attn_mask_from = nullptr;

    // the exact rows attended: one list for every token (prompt batches), or each token's own (decode)
    void plan_rows(const std::vector<llama_seq_id> & seq_list);
    void plan_rows_per_token();

    // att_prefix and h_att_seen of a RECON_NONE plan
    void plan_prefix();

    // RECON_TOPK with several tokens: each token's list of its own sequence's compressed cells (n_cand, h_cand_*)
    void plan_batch_candidates();
    // tokens a decode step reconstructs per token: top_k, or the fraction of the longest of seqs if more
    int32_t top_k_for(const std::vector<llama_seq_id> & seqs) const;

    // the masks of the plan, made by set_input()
    void fill_masks();

    std::vector<llama_seq_id> tok_seq; // the plan's ubatch: each token's sequence and position
    std::vector<llama_pos>    tok_pos;
    std::vector<llama_seq_id> att_seq; // sequence of each exact row attended (-1: padding)
    std::vector<llama_seq_id> all_seq; // RECON_ALL: sequence of each rebuilt token

    std::vector<int64_t> h_write_rows;
    std::vector<int32_t> h_neg_pos;
    std::vector<int32_t> h_att_rows;
    std::vector<int32_t> h_att_pos;
    std::vector<float>   h_att_mask;
    std::vector<ggml_fp16_t> h_att_mask16;
    std::vector<float>   h_att_seen;
    std::vector<float>   h_tok_seq;
    std::vector<float>   h_tok_pos;
    std::vector<int32_t> h_all_slots;
    std::vector<int32_t> h_all_pos;
    std::vector<float>   h_all_mask;
    std::vector<int32_t> h_cand_cell;
    std::vector<float>   h_cand_count;

    // what h_cand_cell and h_cand_count of a cand_gather plan were made for: the memory's version, n_kv, the sequences
    uint64_t                  lists_version = 0;
    int32_t                   lists_n_kv    = -1;
    int32_t                   lists_n_cand  = 0;
    std::vector<llama_seq_id> lists_seqs;
    std::vector<float>   h_cand_mask;
    std::vector<float>   h_cand_valid;
    std::vector<int32_t> h_cell_slot;
    std::vector<int32_t> h_cell_pos;
    std::vector<int32_t> h_cell_row;
    std::vector<float>   h_cell_exact;
};
