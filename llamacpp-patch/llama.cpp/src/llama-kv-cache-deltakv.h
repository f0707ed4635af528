#pragma once

// DeltaKV memory, a llama_memory_i: the full layers keep an ordinary cache, every other layer keeps sink, reference
// and recent tokens as exact pre-RoPE [K | V] rows and older tokens as latent codes plus the ids of their references
// (DeltaKV spec 3.2). Compression of a block runs after the call whose tokens filled the raw buffer (spec 6.2), before
// the next ubatch is placed.
//
// This class places tokens, runs the sequence operations and the state IO and keeps the sequences' plans; the parts:
//   llama-deltakv-store.h        the DeltaKV layers' buffers and which rows and latent slots are in use
//   llama-deltakv-compression.h  a block's compression into latents, and its commit
//   llama-deltakv-tables.h       the candidate and cell tables decode reads on the device
//   llama-deltakv-attention.h    the attention of a DeltaKV layer in the model graph, and its inputs

#include "llama-deltakv-compression.h"
#include "llama-deltakv-planner.h"
#include "llama-deltakv-side-file.h"
#include "llama-deltakv-store.h"
#include "llama-deltakv-tables.h"
#include "llama-kv-cache.h"
#include "llama-memory.h"

#include "ggml-cpp.h"

#include <map>
#include <memory>
#include <vector>

struct llama_model;
class llama_context;

class llama_kv_cache_deltakv : public llama_memory_i {
public:
    llama_kv_cache_deltakv(
            const llama_model   & model,
            const llama_deltakv & dkv,
                    ggml_type     type_k,
                    ggml_type     type_v,
                         bool     v_trans,
                         bool     offload,
                     uint32_t     kv_size,
                     uint32_t     n_seq_max,
                     uint32_t     n_batch);

    ~llama_kv_cache_deltakv() = default;

    //
    // llama_memory_i
    //

    llama_memory_context_ptr init_batch(llama_batch_allocr & balloc, uint32_t n_ubatch, bool embd_all) override;
    llama_memory_context_ptr init_full() override;
    llama_memory_context_ptr init_update(llama_context * lctx, bool optimize) override;

    bool get_can_shift() const override;

    void clear(bool data) override;

    bool seq_rm  (llama_seq_id seq_id,                              llama_pos p0, llama_pos p1) override;
    void seq_cp  (llama_seq_id seq_id_src, llama_seq_id seq_id_dst, llama_pos p0, llama_pos p1) override;
    void seq_keep(llama_seq_id seq_id) override;
    void seq_add (llama_seq_id seq_id,                              llama_pos p0, llama_pos p1, llama_pos shift) override;
    void seq_div (llama_seq_id seq_id,                              llama_pos p0, llama_pos p1, int d) override;

    llama_pos seq_pos_min(llama_seq_id seq_id) const override;
    llama_pos seq_pos_max(llama_seq_id seq_id) const override;

    std::map<ggml_backend_buffer_type_t, size_t> memory_breakdown() const override;

    void state_write(llama_io_write_i & io, llama_seq_id seq_id = -1, llama_state_seq_flags flags = 0) const override;
    void state_read (llama_io_read_i  & io, llama_seq_id seq_id = -1, llama_state_seq_flags flags = 0) override;

    //
    // DeltaKV
    //

    const llama_deltakv & get_dkv()  const { return dkv; }
    llama_kv_cache      * get_full() const { return kv_full.get(); }

    const llama_model & get_model() const { return model; }

    // storage of DeltaKV layer il (nullptr for a full layer)
    const llama_deltakv_layer_store * get_layer(int32_t il) const { return store->get_layer(il); }

    const llama_deltakv_sequence * get_seq(llama_seq_id seq_id) const;

    uint32_t get_n_exact() const { return store->get_n_exact(); }

    // Places the tokens of a ubatch: an exact row per token, the planner advanced; rows[i] for token i.
    bool place_ubatch(const llama_ubatch & ubatch, std::vector<int64_t> & rows);

    // Compresses every block the planners allow (spec 6.2; see llama-deltakv-compression.h).
    bool compress_pending(llama_context * lctx);

    bool has_pending() const;

    // the candidate table, and that of a sequence brought up to date (no graph may be reading it)
    const llama_deltakv_tables::cand_table & get_cand_table() const { return tables->get_cand_table(); }
    void sync_cand_table(llama_seq_id seq_id);

    // the cell table; brought up to date after a ubatch was placed in cells `written` (no graph may be reading it)
    const llama_deltakv_tables::cell_table & get_cell_table() const { return tables->get_cell_table(); }
    void sync_cell_table(const int64_t * written, int32_t n_written);

    // the full-layer cells a ubatch's tokens went to (cells[i] for token i), so that a commit can find its block's
    void note_cells(const llama_ubatch & ubatch, const int64_t * cells);

    // whether a cell holds tokens of several sequences (after seq_cp): the cell table cannot tell them apart
    bool has_shared_cells() const;

    // changes with every change of the memory but appended tokens (what the tables and a batch's lists depend on)
    uint64_t get_version() const { return version; }

    void get_stats(struct llama_deltakv_stats & out) const;

    // latents of a sequence's compressed tokens in layer il as F32 rows (dst nullptr: the count); -1 for a full layer
    int64_t get_latents(llama_seq_id seq_id, int32_t il, float * dst, int64_t max_rows) const;

private:
    const llama_model   & model;
    const llama_hparams & hparams;
    const llama_deltakv & dkv;

    std::unique_ptr<llama_kv_cache> kv_full; // full layers; its cells are the positions of every layer

    llama_deltakv_plan_params plan_params;

    std::unique_ptr<llama_deltakv_store>       store;
    std::unique_ptr<llama_deltakv_tables>      tables;
    std::unique_ptr<llama_deltakv_compression> compression;

    std::map<llama_seq_id, llama_deltakv_sequence> seqs;

    mutable bool     shared         = false; // has_shared_cells() of shared_version
    mutable uint64_t shared_version = 0;
    uint64_t         version        = 1; // changes with every change but appended tokens
    // changes with every change of the cells but appended tokens: a compression changes version, not the cells (the
    // cell table and the shared-cell check were passes over every cell at each compression: 128K cells at 128K)
    uint64_t         cells_epoch    = 1;

    // a sequence operation, a clear or a state read changed the cells
    void cells_changed() { ++version; ++cells_epoch; tables->cells_changed(); }

    llama_deltakv_sequence & seq(llama_seq_id seq_id);

    void state_write_seq(llama_io_write_i & io, llama_seq_id seq_id, const llama_deltakv_sequence & s) const;
    bool state_read_seq (llama_io_read_i  & io, llama_seq_id seq_id);
};

// The memory context: the full layers' context plus the DeltaKV placement of each ubatch.
class llama_kv_cache_deltakv_context : public llama_memory_context_i {
public:
    // an error or a no-update
    llama_kv_cache_deltakv_context(llama_memory_status status);

    // the full-cache context used to reserve the worst-case graph
    llama_kv_cache_deltakv_context(llama_kv_cache_deltakv * mem);

    // a batch: the full layers' batch context (already prepared) and the DeltaKV placement on apply()
    llama_kv_cache_deltakv_context(llama_kv_cache_deltakv * mem, llama_memory_context_ptr ctx_full);

    virtual ~llama_kv_cache_deltakv_context();

    bool next()  override;
    bool apply() override;

    llama_memory_status  get_status() const override;
    const llama_ubatch & get_ubatch() const override;

    const llama_kv_cache_context * get_full() const { return ctx_full.get(); }

    const llama_kv_cache_deltakv * get_mem() const { return mem; }

    bool is_reserve() const { return reserve; }

    // the memory's candidate table of a sequence, up to date (decode of one token)
    void sync_cand_table(llama_seq_id seq_id) const { mem->sync_cand_table(seq_id); }

    // the memory's cell table, after this ubatch went to cells `written`
    void sync_cell_table(const int64_t * written, int32_t n_written) const { mem->sync_cell_table(written, n_written); }
    void note_cells(const llama_ubatch & ubatch, const int64_t * cells) const { mem->note_cells(ubatch, cells); }

    // exact rows of the current ubatch's tokens (after apply)
    const std::vector<int64_t> & get_write_rows() const { return write_rows; }

private:
    llama_memory_status status;

    llama_kv_cache_deltakv * mem = nullptr;

    bool reserve = false;

    std::unique_ptr<llama_kv_cache_context> ctx_full;

    std::vector<int64_t> write_rows;
};
