#include "llama-kv-cache-deltakv.h"

#include "llama-batch.h"
#include "llama-context.h"
#include "llama-graph.h"
#include "llama-impl.h"
#include "llama-io.h"
#include "llama-model.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

static constexpr uint32_t DELTAKV_STATE_MAGIC   = 0x31564b44; // "DKV1"
static constexpr uint32_t DELTAKV_STATE_VERSION = 2; // 2: centers have no latent

llama_kv_cache_deltakv::llama_kv_cache_deltakv(
        const llama_model   & model,
        const llama_deltakv & dkv,
                ggml_type     type_k,
                ggml_type     type_v,
                     bool     v_trans,
                     bool     offload,
                 uint32_t     kv_size,
                 uint32_t     n_seq_max,
                 uint32_t     n_batch) :
    model(model), hparams(model.hparams), dkv(dkv) {

    const llama_deltakv * pdkv = &dkv;
    llama_kv_cache::layer_filter_cb filter_full = [pdkv](int32_t il) { return (bool) pdkv->is_full[il]; };

    kv_full = std::make_unique<llama_kv_cache>(model, hparams, type_k, type_v, v_trans, offload, /*unified*/ true,
            kv_size, n_seq_max, 1, 0, LLAMA_SWA_TYPE_NONE, nullptr, filter_full, nullptr, nullptr, "");

    plan_params.n_sink        = (int32_t) dkv.n_sink;
    plan_params.n_recent      = (int32_t) dkv.n_recent;
    plan_params.center_stride = (int32_t) dkv.center_stride;
    plan_params.n_neighbors   = (int32_t) dkv.n_neighbors;
    plan_params.top_k         = (int32_t) dkv.top_k;

    store       = std::make_unique<llama_deltakv_store>(model, dkv, offload, kv_size, n_seq_max, n_batch);
    tables      = std::make_unique<llama_deltakv_tables>(
            ggml_backend_buffer_get_type(store->get_layers()[0].exact->buffer), kv_size, dkv.test.table_rescan);
    compression = std::make_unique<llama_deltakv_compression>(dkv, hparams, *store);
    clear(false);
}

void llama_kv_cache_deltakv::note_cells(const llama_ubatch & ubatch, const int64_t * cells) {
    llama_deltakv_tables::note_cells(ubatch, cells, seqs);
}

void llama_kv_cache_deltakv::sync_cand_table(llama_seq_id seq_id) {
    tables->sync_cand_table(seq_id, kv_full->get_cells_deltakv(), seqs, version, cells_epoch);
}

void llama_kv_cache_deltakv::sync_cell_table(const int64_t * written, int32_t n_written) {
    tables->sync_cell_table(kv_full->get_cells_deltakv(), written, n_written, cells_epoch);
}

bool llama_kv_cache_deltakv::has_shared_cells() const {
    if (shared_version != cells_epoch) {
        const auto & cells = kv_full->get_cells_deltakv();
        shared = false;
        for (uint32_t c = 0; c < cells.size() && !shared; ++c) {
            shared = !cells.is_empty(c) && cells.seq_count(c) > 1;
        }
        shared_version = cells_epoch;
    }
    return shared;
}

//
// sequences
//

llama_deltakv_sequence & llama_kv_cache_deltakv::seq(llama_seq_id seq_id) {
    auto it = seqs.find(seq_id);
    if (it == seqs.end()) {
        it = seqs.emplace(seq_id, llama_deltakv_sequence(plan_params)).first;
    }
    return it->second;
}

const llama_deltakv_sequence * llama_kv_cache_deltakv::get_seq(llama_seq_id seq_id) const {
    auto it = seqs.find(seq_id);
    return it == seqs.end() ? nullptr : &it->second;
}

bool llama_kv_cache_deltakv::place_ubatch(const llama_ubatch & ubatch, std::vector<int64_t> & rows) {
    rows.resize(ubatch.n_tokens);
    for (uint32_t i = 0; i < ubatch.n_tokens; ++i) {
        const llama_seq_id seq_id = ubatch.seq_id[i][0];
        const llama_pos    pos    = ubatch.pos[i];
        llama_deltakv_sequence & s = seq(seq_id);
        if (pos != s.plan.n_tokens()) {
            LLAMA_LOG_ERROR("%s: DeltaKV: sequence %d expects position %d next, got %d\n", __func__, seq_id,
                            s.plan.n_tokens(), pos);
            return false;
        }
        const int32_t row = store->alloc_row();
        if (row < 0) {
            LLAMA_LOG_ERROR("%s: DeltaKV: out of exact rows\n", __func__);
            return false;
        }
        s.row_of_pos.push_back(row);
        s.slot_of_pos.push_back(-1);
        s.plan.append(1);
        s.n_appended++;
        rows[i] = row;
    }
    return true;
}

//
// compression (spec 6.2)
//

bool llama_kv_cache_deltakv::has_pending() const {
    for (const auto & [id, s] : seqs) {
        if (compression->is_due(s)) {
            return true;
        }
    }
    return false;
}

bool llama_kv_cache_deltakv::compress_pending(llama_context * lctx) {
    std::vector<llama_deltakv_compression::committed_block> done;
    const bool ok = compression->run(lctx, seqs, done);
    for (const auto & b : done) {
        ++version; // the cells are as they were
        tables->block_committed(b.seq_id, b.p0, b.p1);
    }
    return ok;
}

//
// llama_memory_i
//

llama_memory_context_ptr llama_kv_cache_deltakv::init_batch(llama_batch_allocr & balloc, uint32_t n_ubatch, bool embd_all) {
    const llama_batch & batch = balloc.get_batch();
    for (int32_t i = 0; i < batch.n_tokens; ++i) {
        if (batch.n_seq_id != nullptr && batch.n_seq_id[i] != 1) {
            LLAMA_LOG_ERROR("%s: DeltaKV: a token may belong to one sequence only (token %d has %d)\n", __func__, i,
                            batch.n_seq_id[i]);
            return std::make_unique<llama_kv_cache_deltakv_context>(LLAMA_MEMORY_STATUS_FAILED_PREPARE);
        }
    }
    if (balloc.get_n_tokens() > store->n_free_rows()) {
        LLAMA_LOG_DEBUG("%s: DeltaKV: %u tokens need exact rows, %zu free\n", __func__, balloc.get_n_tokens(),
                        store->n_free_rows());
        return std::make_unique<llama_kv_cache_deltakv_context>(LLAMA_MEMORY_STATUS_FAILED_PREPARE);
    }

    auto ctx_full = kv_full->init_batch(balloc, n_ubatch, embd_all);
    if (!ctx_full || ctx_full->get_status() != LLAMA_MEMORY_STATUS_SUCCESS) {
        return std::make_unique<llama_kv_cache_deltakv_context>(
                ctx_full ? ctx_full->get_status() : LLAMA_MEMORY_STATUS_FAILED_PREPARE);
    }
    return std::make_unique<llama_kv_cache_deltakv_context>(this, std::move(ctx_full));
}

llama_memory_context_ptr llama_kv_cache_deltakv::init_full() {
    return std::make_unique<llama_kv_cache_deltakv_context>(this);
}

llama_memory_context_ptr llama_kv_cache_deltakv::init_update(llama_context * lctx, bool optimize) {
    GGML_UNUSED(optimize);
    for (auto & [id, s] : seqs) {
        s.decoding   = s.n_appended <= 1;
        s.n_appended = 0;
    }
    // pending blocks are compressed here, on the memory's own scheduler: the context has nothing to reset or reserve
    // again afterwards, which an update (LLAMA_MEMORY_STATUS_SUCCESS) would make it do at every compression
    if (has_pending() && !compress_pending(lctx)) {
        return std::make_unique<llama_kv_cache_deltakv_context>(LLAMA_MEMORY_STATUS_FAILED_COMPUTE);
    }
    return std::make_unique<llama_kv_cache_deltakv_context>(LLAMA_MEMORY_STATUS_NO_UPDATE);
}

bool llama_kv_cache_deltakv::get_can_shift() const {
    return false;
}

void llama_kv_cache_deltakv::clear(bool data) {
    cells_changed();
    kv_full->clear(data);
    seqs.clear();
    store->clear(data);
}

bool llama_kv_cache_deltakv::seq_rm(llama_seq_id seq_id, llama_pos p0, llama_pos p1) {
    if (p0 < 0) {
        p0 = 0;
    }
    if (p1 < 0) {
        p1 = std::numeric_limits<llama_pos>::max();
    }

    std::vector<llama_seq_id> ids;
    if (seq_id < 0) {
        for (const auto & [id, s] : seqs) {
            ids.push_back(id);
        }
    } else if (seqs.count(seq_id)) {
        ids.push_back(seq_id);
    }

    // check every sequence first: all or nothing
    for (llama_seq_id id : ids) {
        const llama_deltakv_sequence & s = seqs.at(id);
        if (p0 >= s.plan.n_tokens() || p0 >= p1) {
            continue;
        }
        if (p1 < s.plan.n_tokens()) {
            LLAMA_LOG_WARN("%s: DeltaKV: cannot remove positions [%d, %d) from the middle of sequence %d\n", __func__,
                           p0, p1, id);
            return false;
        }
        llama_deltakv_seq_plan probe = s.plan;
        if (!probe.remove_from(p0)) {
            LLAMA_LOG_WARN("%s: DeltaKV: cannot remove positions from %d of sequence %d: they are compressed "
                           "(compressed history ends at %d)\n", __func__, p0, id, s.plan.n_sink() + s.plan.n_compressed());
            return false;
        }
    }

    if (!kv_full->seq_rm(seq_id, p0, p1)) {
        return false;
    }
    cells_changed();

    for (llama_seq_id id : ids) {
        llama_deltakv_sequence & s = seqs.at(id);
        if (p0 >= s.plan.n_tokens() || p0 >= p1) {
            continue;
        }
        s.plan.remove_from(p0);
        store->release_from(s, p0);
        if (s.plan.n_tokens() == 0) {
            seqs.erase(id);
        }
    }
    return true;
}

void llama_kv_cache_deltakv::seq_cp(llama_seq_id seq_id_src, llama_seq_id seq_id_dst, llama_pos p0, llama_pos p1) {
    if (seq_id_src == seq_id_dst) {
        return;
    }
    const llama_deltakv_sequence * src = get_seq(seq_id_src);
    const int32_t n = src ? src->plan.n_tokens() : 0;
    if ((p0 > 0 && p0 < n) || (p1 >= 0 && p1 < n)) {
        LLAMA_LOG_ERROR("%s: DeltaKV: only a whole sequence can be copied (asked [%d, %d) of %d tokens)\n", __func__,
                        p0, p1, n);
        return;
    }
    seq_rm(seq_id_dst, -1, -1);
    kv_full->seq_cp(seq_id_src, seq_id_dst, p0, p1);
    cells_changed();
    if (src == nullptr) {
        return;
    }
    llama_deltakv_sequence copy = *src;
    copy.work = {}; // the source's block being compressed stays the source's (its slots are not shared)
    store->share(copy);
    seqs.erase(seq_id_dst);
    seqs.emplace(seq_id_dst, std::move(copy));
}

void llama_kv_cache_deltakv::seq_keep(llama_seq_id seq_id) {
    std::vector<llama_seq_id> others;
    for (const auto & [id, s] : seqs) {
        if (id != seq_id) {
            others.push_back(id);
        }
    }
    kv_full->seq_keep(seq_id);
    cells_changed();
    for (llama_seq_id id : others) {
        store->release_from(seqs.at(id), 0);
        seqs.erase(id);
    }
}

void llama_kv_cache_deltakv::seq_add(llama_seq_id seq_id, llama_pos p0, llama_pos p1, llama_pos shift) {
    if (shift != 0) {
        LLAMA_LOG_ERROR("%s: DeltaKV memory cannot shift positions (sequence %d, [%d, %d) by %d): ignored\n", __func__,
                        seq_id, p0, p1, shift);
    }
}

void llama_kv_cache_deltakv::seq_div(llama_seq_id seq_id, llama_pos p0, llama_pos p1, int d) {
    if (d != 1) {
        LLAMA_LOG_ERROR("%s: DeltaKV memory cannot divide positions (sequence %d, [%d, %d) by %d): ignored\n", __func__,
                        seq_id, p0, p1, d);
    }
}

llama_pos llama_kv_cache_deltakv::seq_pos_min(llama_seq_id seq_id) const {
    return kv_full->seq_pos_min(seq_id);
}

llama_pos llama_kv_cache_deltakv::seq_pos_max(llama_seq_id seq_id) const {
    return kv_full->seq_pos_max(seq_id);
}

std::map<ggml_backend_buffer_type_t, size_t> llama_kv_cache_deltakv::memory_breakdown() const {
    auto res = kv_full->memory_breakdown();
    for (const auto & buf : store->get_buffers()) {
        res[ggml_backend_buffer_get_type(buf.get())] += ggml_backend_buffer_get_size(buf.get());
    }
    res[ggml_backend_buffer_get_type(tables->get_buffer())] += ggml_backend_buffer_get_size(tables->get_buffer());
    return res;
}

//
// statistics
//

void llama_kv_cache_deltakv::get_stats(llama_deltakv_stats & out) const {
    out = {};
    for (const auto & [id, s] : seqs) {
        out.n_tokens     += s.plan.n_tokens();
        out.n_compressed += s.plan.n_compressed();
        out.n_refs       += s.plan.n_refs();
        out.n_raw        += s.plan.n_raw();
    }
    const int64_t n_deltakv = (int64_t) store->get_layers().size();
    const int64_t n_full    = (int64_t) hparams.n_layer() - n_deltakv;
    const int64_t rows_used  = (int64_t) store->get_n_exact() - (int64_t) store->n_free_rows();
    const int64_t slots_used = (int64_t) store->get_n_slots() - (int64_t) store->n_free_slots();
    const int64_t cells_used = (int64_t) kv_full->get_cells_deltakv().get_used();

    const int64_t kv_row_f16 = (int64_t) ggml_row_size(GGML_TYPE_F16, dkv.kv_dim);
    const int64_t full_row   = (int64_t) (ggml_row_size(kv_full->type_k(), dkv.kv_dim / 2) +
                                          ggml_row_size(kv_full->type_v(), dkv.kv_dim / 2));

    out.bytes_full_layers = cells_used * n_full * full_row;
    out.bytes_exact_rows  = rows_used * n_deltakv * kv_row_f16;
    out.bytes_latents     = slots_used * n_deltakv * (int64_t) ggml_row_size(llama_deltakv_latent_type(dkv), dkv.latent_dim);
    out.bytes_ref_ids     = slots_used * n_deltakv * (int64_t) dkv.n_neighbors * (int64_t) sizeof(float);
    out.bytes_stock       = cells_used * (int64_t) hparams.n_layer() * kv_row_f16;

    for (const auto & [buft, size] : memory_breakdown()) {
        out.alloc_bytes += (int64_t) size;
    }
    out.alloc_bytes_stock = (int64_t) kv_full->get_size() * (int64_t) hparams.n_layer() * kv_row_f16;
    for (const auto & buf : dkv.bufs) {
        out.bytes_compressor += (int64_t) ggml_backend_buffer_get_size(buf.get());
    }
}

bool llama_deltakv_get_stats(const llama_context * ctx, llama_deltakv_stats * out) {
    if (ctx == nullptr || out == nullptr) {
        return false;
    }
    const auto * mem = dynamic_cast<const llama_kv_cache_deltakv *>(ctx->get_memory());
    if (mem == nullptr) {
        return false;
    }
    mem->get_stats(*out);
    return true;
}

llama_pos llama_deltakv_seq_rm_pos_min(const llama_context * ctx, llama_seq_id seq_id) {
    const auto * mem = ctx == nullptr ? nullptr : dynamic_cast<const llama_kv_cache_deltakv *>(ctx->get_memory());
    if (mem == nullptr) {
        return -1;
    }
    const llama_deltakv_sequence * s = mem->get_seq(seq_id);
    if (s == nullptr || s->plan.n_compressed() == 0) {
        return 0;
    }
    return s->plan.n_sink() + s->plan.n_compressed();
}

int64_t llama_kv_cache_deltakv::get_latents(llama_seq_id seq_id, int32_t il, float * dst, int64_t max_rows) const {
    const llama_deltakv_layer_store * st = get_layer(il);
    if (st == nullptr) {
        return -1;
    }
    const llama_deltakv_sequence * s = get_seq(seq_id);
    if (s == nullptr) {
        return 0;
    }
    int64_t n = 0;
    for (int32_t slot : s->slot_of_pos) {
        n += slot >= 0 ? 1 : 0;
    }
    if (dst == nullptr) {
        return n;
    }
    const int64_t d    = st->latent->ne[0];
    const size_t  nb1  = st->latent->nb[1];
    const auto *  conv = ggml_get_type_traits(st->latent->type);
    std::vector<uint8_t> row(nb1);
    int64_t k = 0;
    for (size_t p = 0; p < s->slot_of_pos.size() && k < max_rows; ++p) {
        if (s->slot_of_pos[p] < 0) {
            continue;
        }
        ggml_backend_tensor_get(st->latent, row.data(), (size_t) s->slot_of_pos[p] * nb1, nb1);
        conv->to_float(row.data(), dst + k * d, d);
        ++k;
    }
    return k;
}

int64_t llama_deltakv_get_latents(const llama_context * ctx, llama_seq_id seq_id, int32_t il, float * dst,
                                  int64_t max_rows) {
    const auto * mem = ctx ? dynamic_cast<const llama_kv_cache_deltakv *>(ctx->get_memory()) : nullptr;
    return mem == nullptr ? -1 : mem->get_latents(seq_id, il, dst, max_rows);
}

//
// state
//

void llama_kv_cache_deltakv::state_write_seq(llama_io_write_i & io, llama_seq_id seq_id, const llama_deltakv_sequence & s) const {
    const auto & refs = s.plan.refs();
    const int32_t n_tok  = s.plan.n_tokens();
    const int32_t n_comp = s.plan.n_compressed();
    const int32_t n_ref  = (int32_t) refs.size();
    const int32_t c0     = s.plan.n_sink();

    io.write(&seq_id, sizeof(seq_id));
    io.write(&n_tok,  sizeof(n_tok));
    io.write(&n_comp, sizeof(n_comp));
    io.write(&n_ref,  sizeof(n_ref));
    io.write(refs.data(), sizeof(int32_t) * refs.size());

    // exact rows: references in list order, then the raw buffer
    std::vector<int32_t> rows;
    for (int32_t p : refs) {
        rows.push_back(s.row_of_pos[p]);
    }
    for (int32_t p = c0 + n_comp; p < n_tok; ++p) {
        rows.push_back(s.row_of_pos[p]);
    }
    std::map<int32_t, int32_t> list_of_row;
    for (int32_t r = 0; r < n_ref; ++r) {
        list_of_row[s.row_of_pos[refs[r]]] = r;
    }

    const int32_t k = (int32_t) dkv.n_neighbors;
    std::vector<float>   ids(k);
    std::vector<int32_t> list(k);
    for (const auto & st : store->get_layers()) {
        for (int32_t row : rows) {
            io.write_tensor(st.exact, (size_t) row * st.exact->nb[1], st.exact->nb[1]);
        }
        for (int32_t p = c0; p < c0 + n_comp; ++p) {
            if (s.slot_of_pos[p] >= 0) {
                io.write_tensor(st.latent, (size_t) s.slot_of_pos[p] * st.latent->nb[1], st.latent->nb[1]);
            }
        }
        for (int32_t p = c0; p < c0 + n_comp; ++p) {
            if (s.slot_of_pos[p] < 0) {
                continue; // a center: exact
            }
            ggml_backend_tensor_get(st.ids, ids.data(), (size_t) s.slot_of_pos[p] * st.ids->nb[1], st.ids->nb[1]);
            for (int32_t j = 0; j < k; ++j) {
                list[j] = list_of_row.at((int32_t) ids[j]);
            }
            io.write(list.data(), sizeof(int32_t) * k);
        }
    }
}

void llama_kv_cache_deltakv::state_write(llama_io_write_i & io, llama_seq_id seq_id, llama_state_seq_flags flags) const {
    kv_full->state_write(io, seq_id, flags);

    const uint32_t header[] = {
        DELTAKV_STATE_MAGIC, DELTAKV_STATE_VERSION, hparams.n_layer(), dkv.kv_dim, dkv.latent_dim,
        (uint32_t) llama_deltakv_latent_type(dkv), dkv.n_neighbors, dkv.n_sink, dkv.n_recent, dkv.center_stride,
    };
    io.write(header, sizeof(header));

    uint32_t n_seq = 0;
    for (const auto & [id, s] : seqs) {
        n_seq += (seq_id < 0 || id == seq_id) ? 1 : 0;
    }
    io.write(&n_seq, sizeof(n_seq));
    for (const auto & [id, s] : seqs) {
        if (seq_id < 0 || id == seq_id) {
            state_write_seq(io, id, s);
        }
    }
}

bool llama_kv_cache_deltakv::state_read_seq(llama_io_read_i & io, llama_seq_id seq_id) {
    llama_seq_id saved_id;
    int32_t n_tok, n_comp, n_ref;
    io.read(&saved_id, sizeof(saved_id));
    io.read(&n_tok,  sizeof(n_tok));
    io.read(&n_comp, sizeof(n_comp));
    io.read(&n_ref,  sizeof(n_ref));
    if (n_tok < 0 || n_comp < 0 || n_ref < 0 || n_tok > (int32_t) kv_full->get_size() || n_ref > n_tok) {
        LLAMA_LOG_ERROR("%s: DeltaKV: corrupt sequence state\n", __func__);
        return false;
    }
    std::vector<int32_t> refs(n_ref);
    io.read(refs.data(), sizeof(int32_t) * n_ref);

    const llama_seq_id id = seq_id < 0 ? saved_id : seq_id;
    if (auto it = seqs.find(id); it != seqs.end()) {
        store->release_from(it->second, 0);
        seqs.erase(it);
    }
    llama_deltakv_sequence s(plan_params);
    if (!s.plan.restore(n_tok, n_comp, refs)) {
        LLAMA_LOG_ERROR("%s: DeltaKV: the saved sequence does not match this compressor's settings\n", __func__);
        return false;
    }
    const int32_t c0 = s.plan.n_sink();

    std::vector<int32_t> positions(refs);
    for (int32_t p = c0 + n_comp; p < n_tok; ++p) {
        positions.push_back(p);
    }
    std::vector<int32_t> encoded; // compressed positions that are not centers
    for (int32_t p = c0; p < c0 + n_comp; ++p) {
        if (!s.plan.is_center(p)) {
            encoded.push_back(p);
        }
    }
    if (positions.size() > store->n_free_rows() || encoded.size() > store->n_free_slots()) {
        LLAMA_LOG_ERROR("%s: DeltaKV: not enough room to restore %d tokens\n", __func__, n_tok);
        return false;
    }
    s.row_of_pos.assign(n_tok, -1);
    s.slot_of_pos.assign(n_tok, -1);
    for (int32_t p : positions) {
        s.row_of_pos[p] = store->alloc_row();
    }
    for (int32_t p : encoded) {
        s.slot_of_pos[p] = store->alloc_slot();
    }

    const int32_t k = (int32_t) dkv.n_neighbors;
    std::vector<int32_t> list(k);
    std::vector<float>   ids(k);
    bool ok = true;
    for (const auto & st : store->get_layers()) {
        for (int32_t p : positions) {
            io.read_tensor(st.exact, (size_t) s.row_of_pos[p] * st.exact->nb[1], st.exact->nb[1]);
        }
        for (int32_t p : encoded) {
            io.read_tensor(st.latent, (size_t) s.slot_of_pos[p] * st.latent->nb[1], st.latent->nb[1]);
        }
        for (int32_t p : encoded) {
            io.read(list.data(), sizeof(int32_t) * k);
            for (int32_t j = 0; j < k; ++j) {
                if (list[j] < 0 || list[j] >= n_ref) {
                    ok = false;
                    list[j] = 0;
                }
                ids[j] = (float) s.row_of_pos[refs[list[j]]];
            }
            ggml_backend_tensor_set(st.ids, ids.data(), (size_t) s.slot_of_pos[p] * st.ids->nb[1], st.ids->nb[1]);
        }
    }
    seqs.emplace(id, std::move(s));
    if (!ok) {
        LLAMA_LOG_ERROR("%s: DeltaKV: corrupt reference ids in the saved state\n", __func__);
    }
    return ok;
}

void llama_kv_cache_deltakv::state_read(llama_io_read_i & io, llama_seq_id seq_id, llama_state_seq_flags flags) {
    cells_changed();
    kv_full->state_read(io, seq_id, flags);

    uint32_t header[10];
    io.read(header, sizeof(header));
    const uint32_t expect[] = {
        DELTAKV_STATE_MAGIC, DELTAKV_STATE_VERSION, hparams.n_layer(), dkv.kv_dim, dkv.latent_dim,
        (uint32_t) llama_deltakv_latent_type(dkv), dkv.n_neighbors, dkv.n_sink, dkv.n_recent, dkv.center_stride,
    };
    if (memcmp(header, expect, sizeof(header)) != 0) {
        throw std::runtime_error("the saved state was not written by a DeltaKV memory with this compressor's settings");
    }

    if (seq_id < 0) {
        for (auto & [id, s] : seqs) {
            store->release_from(s, 0);
        }
        seqs.clear();
    }

    uint32_t n_seq = 0;
    io.read(&n_seq, sizeof(n_seq));
    if (seq_id >= 0 && n_seq > 1) {
        throw std::runtime_error("DeltaKV: a sequence state holds more than one sequence");
    }
    for (uint32_t i = 0; i < n_seq; ++i) {
        if (!state_read_seq(io, seq_id)) {
            throw std::runtime_error("failed to restore the DeltaKV state");
        }
    }
}

//
// llama_kv_cache_deltakv_context
//

llama_kv_cache_deltakv_context::llama_kv_cache_deltakv_context(llama_memory_status status) : status(status) {}

llama_kv_cache_deltakv_context::llama_kv_cache_deltakv_context(llama_kv_cache_deltakv * mem) :
    status(LLAMA_MEMORY_STATUS_SUCCESS), mem(mem), reserve(true) {
    auto full = mem->get_full()->init_full();
    ctx_full.reset(static_cast<llama_kv_cache_context *>(full.release()));
}

llama_kv_cache_deltakv_context::llama_kv_cache_deltakv_context(llama_kv_cache_deltakv * mem,
                                                               llama_memory_context_ptr full) :
    status(LLAMA_MEMORY_STATUS_SUCCESS), mem(mem) {
    ctx_full.reset(static_cast<llama_kv_cache_context *>(full.release()));
}

llama_kv_cache_deltakv_context::~llama_kv_cache_deltakv_context() = default;

bool llama_kv_cache_deltakv_context::next() {
    assert(status == LLAMA_MEMORY_STATUS_SUCCESS);
    return ctx_full ? ctx_full->next() : false;
}

bool llama_kv_cache_deltakv_context::apply() {
    assert(status == LLAMA_MEMORY_STATUS_SUCCESS);
    if (reserve) {
        return true;
    }
    if (!ctx_full->apply()) {
        return false;
    }
    return mem->place_ubatch(ctx_full->get_ubatch(), write_rows);
}

llama_memory_status llama_kv_cache_deltakv_context::get_status() const {
    return status;
}

const llama_ubatch & llama_kv_cache_deltakv_context::get_ubatch() const {
    return ctx_full->get_ubatch();
}
