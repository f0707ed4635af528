#pragma once

// DeltaKV memory, its compression (DeltaKV spec 6.2): a block of a sequence's raw buffer, once due, is encoded into
// latent slots of its own, DeltaKV layer by layer, while its tokens stay raw (attended exactly); when every layer is
// done the block is committed in one go: its tokens now live as latents and their exact rows are freed (centers keep
// theirs). A prompt's block goes through in one call; a decode block (at most 2 x n_recent tokens) a few layers a step
// (llama_deltakv_params.compress_layers_per_step), so that no step carries the whole compression (compressed at once in
// the step that fills the buffer it cost 39-53 ms against 9 at 128K on the H200).
//
// The graphs run on a scheduler of their own, made on first use from the context's backends: the context's graph,
// its allocation and its reserved worst case stay as they are, so decode keeps reusing its graph (and ggml-cuda its
// CUDA graph) across compressions.

#include "llama-deltakv-store.h"
#include "llama-graph.h"

#include "ggml-cpp.h"

#include <map>
#include <memory>
#include <vector>

class llama_context;
struct llama_hparams;

class llama_deltakv_compression {
public:
    // a block committed by run()
    struct committed_block {
        llama_seq_id seq_id;
        int32_t      p0;
        int32_t      p1;
    };

    llama_deltakv_compression(const llama_deltakv & dkv, const llama_hparams & hparams, llama_deltakv_store & store);

    // whether a block of s is due (or being compressed: it stays raw until committed)
    bool is_due(const llama_deltakv_sequence & s) const;

    // compresses, or advances by a step, every block the sequences' plans allow; the blocks committed are added to
    // `done`. false when a compression failed (its block stays raw, its slots freed).
    bool run(llama_context * lctx, std::map<llama_seq_id, llama_deltakv_sequence> & seqs,
             std::vector<committed_block> & done);

private:
    const llama_deltakv & dkv;
    const llama_hparams & hparams;
    llama_deltakv_store & store;

    // the scheduler and graph (compute buffers of their own, sized by the largest tile compressed)
    ggml_backend_sched_ptr            sched;
    std::unique_ptr<llm_graph_result> res;

    bool decode_block_warm = false;

    // a tile of a block's compression: its tokens' exact rows, latent slots and visible references
    struct tile {
        std::vector<int32_t> blk_rows;
        std::vector<int64_t> slots;
        std::vector<float>   visible;
    };

    // the three stages of a block's compression (llama_deltakv_block_work), `after` the sequence's plan with the block
    // compressed: its slots and references; the latents of DeltaKV layers [n_done, n_done + n_layers); the plan set to
    // `after` and the rows of the block's latent tokens freed
    bool begin_block (llama_deltakv_sequence & s, const llama_deltakv_seq_plan & after,
                      const llama_deltakv_block & block, bool pad_refs);
    bool encode_block(llama_context * lctx, llama_deltakv_sequence & s, const llama_deltakv_seq_plan & after,
                      size_t n_layers);
    void commit_block(llama_seq_id seq_id, llama_deltakv_sequence & s, const llama_deltakv_seq_plan & after);

    // runs the compression graph of a tile for DeltaKV layers [from, to); write false: computed, not stored
    bool compute_tile(llama_context * lctx, const tile & t, const std::vector<int32_t> & ref_rows, size_t from,
                      size_t to, bool write);

    // runs the compression graph of the sequence's next decode block once on stand-in rows, so that the first
    // decode block does not pay for kernel loading and GEMM algorithm choice
    void warm_decode_block(llama_context * lctx, const llama_deltakv_sequence & s);

    // block rows compressed per graph, for a block with n_refs references
    int32_t tile_rows(int32_t n_refs) const;

    // a decode block's reference count padded for stable graph shapes
    size_t padded_refs(size_t n) const;
};
