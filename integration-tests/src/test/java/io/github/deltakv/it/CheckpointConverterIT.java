package io.github.deltakv.it;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.langchain4j.data.message.UserMessage;
import dev.langchain4j.model.chat.response.ChatResponse;

import io.github.deltakv.calibration.CheckpointConverter;
import io.github.deltakv.calibration.GgufReader;
import io.github.deltakv.calibration.GgufWriter;
import io.github.deltakv.langchain4j.DeltaKvChatModel;
import io.github.deltakv.langchain4j.DeltaKvChatResponseMetadata;
import io.github.deltakv.langchain4j.DeltaKvConfig;
import io.github.deltakv.langchain4j.DeltaKvException;
import io.github.deltakv.langchain4j.DeltaKvStats;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The paper's checkpoint format converted into side files: a synthetic checkpoint with the public
 * checkpoints' key names and shapes (bf16 safetensors, SwiGLU encoder, linear decoder) for kvtiny's shape
 * loads and runs; the Llama K permutation matches a hand-computed case; wrong checkpoints fail clearly.
 */
class CheckpointConverterIT {

    static final int KV_DIM = 256; // kvtiny: 2 KV heads x 64, [K | V]
    static final int D = 64;
    static final int FF = 96;

    @TempDir
    Path tmp;

    /** A bf16 safetensors file of named row-major matrices. */
    static void writeSafetensors(Path out, Map<String, float[]> tensors, Map<String, long[]> shapes) throws Exception {
        StringBuilder header = new StringBuilder("{\"__metadata__\":{\"format\":\"pt\"}");
        long offset = 0;
        for (String name : tensors.keySet()) {
            long[] s = shapes.get(name);
            long bytes = tensors.get(name).length * 2L;
            header.append(",\"").append(name).append("\":{\"dtype\":\"BF16\",\"shape\":[").append(s[0]).append(',')
                    .append(s[1]).append("],\"data_offsets\":[").append(offset).append(',').append(offset + bytes).append("]}");
            offset += bytes;
        }
        header.append('}');
        byte[] json = header.toString().getBytes(StandardCharsets.UTF_8);
        ByteArrayOutputStream file = new ByteArrayOutputStream();
        file.write(ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).array());
        file.write(json);
        for (float[] t : tensors.values()) {
            ByteBuffer b = ByteBuffer.allocate(t.length * 2).order(ByteOrder.LITTLE_ENDIAN);
            for (float v : t) {
                b.putShort((short) (Float.floatToIntBits(v) >>> 16)); // bf16: the high half (exact for our values)
            }
            file.write(b.array());
        }
        Files.write(out, file.toByteArray());
    }

    /**
     * The paper checkpoint's keys for every layer of kvtiny, small random values; marked: row 0 of w12 holds
     * its column index and column 0 of compress_up its row index (to follow the permutation; not for inference).
     */
    static Path checkpoint(Path dir, boolean shared, int kvDim, boolean marked) throws Exception {
        Map<String, float[]> t = new LinkedHashMap<>();
        Map<String, long[]> s = new LinkedHashMap<>();
        Random random = new Random(5);
        for (int il = 0; il < (shared ? 1 : 6); il++) {
            String p = shared ? "" : "model.layers." + il + ".self_attn.";
            float[] w12 = new float[2 * FF * kvDim];
            for (int r = 0; r < 2 * FF; r++) {
                for (int c = 0; c < kvDim; c++) {
                    w12[r * kvDim + c] = marked && r == 0 ? c : (random.nextInt(17) - 8) / 256f;
                }
            }
            float[] w3 = new float[D * FF];
            for (int i = 0; i < w3.length; i++) {
                w3[i] = (random.nextInt(17) - 8) / 256f;
            }
            float[] up = new float[kvDim * D];
            for (int r = 0; r < kvDim; r++) {
                for (int c = 0; c < D; c++) {
                    up[r * D + c] = marked && c == 0 ? r : (random.nextInt(17) - 8) / 256f;
                }
            }
            t.put(p + "compress_down.w12.weight", w12);
            s.put(p + "compress_down.w12.weight", new long[] {2 * FF, kvDim});
            t.put(p + "compress_down.w3.weight", w3);
            s.put(p + "compress_down.w3.weight", new long[] {D, FF});
            t.put(p + "compress_up.weight", up);
            s.put(p + "compress_up.weight", new long[] {kvDim, D});
        }
        Files.createDirectories(dir);
        Path file = dir.resolve("model.safetensors");
        writeSafetensors(file, t, s);
        return dir;
    }

    @Test
    void a_paper_format_checkpoint_converts_loads_and_runs_on_kvtiny() throws Exception {
        Path ckpt = checkpoint(tmp.resolve("ckpt"), false, KV_DIM, false);
        Path side = tmp.resolve("kvtiny.deltakv.gguf");

        CheckpointConverter.Result r = CheckpointConverter.convert(ckpt, TestModels.kvtiny(), side, List.of(0, 4), 16, null);

        assertThat(r.encoder()).isEqualTo("swiglu");
        assertThat(r.latentDim()).isEqualTo(D);
        assertThat(r.hiddenDim()).isEqualTo(FF);
        assertThat(r.kPermuted()).isTrue(); // kvtiny is a llama-architecture GGUF
        assertThat(r.layers()).containsExactly(1, 2, 3, 5);
        try (DeltaKvChatModel model = DeltaKvMemoryIT.kvtiny(DeltaKvConfig.of(side), 2048)) {
            ChatResponse response = model.chat(UserMessage.from(Haystacks.needle(1500, 0.5, 60).message()));
            DeltaKvStats stats = ((DeltaKvChatResponseMetadata) response.metadata()).kvMemory().deltaKv();
            long encoded = stats.compressedTokens() - (stats.referenceTokens() - 8);
            assertThat(stats.compressedTokens()).isGreaterThan(1000);
            assertThat(stats.bytesLatents()).isEqualTo(encoded * 4 * D * 2); // 4 layers, 64 dims of F16
        }
    }

    @Test
    void the_llama_k_permutation_matches_the_hand_computed_case() throws Exception {
        Path ckpt = checkpoint(tmp.resolve("ckpt"), false, KV_DIM, true);
        Path permuted = tmp.resolve("p.gguf");
        Path plain = tmp.resolve("n.gguf");
        CheckpointConverter.convert(ckpt, TestModels.kvtiny(), permuted, List.of(0, 4), 16, true);
        CheckpointConverter.convert(ckpt, TestModels.kvtiny(), plain, List.of(0, 4), 16, false);

        // head dim 64: llama.cpp keeps K_hf[j*32 + i] at 2i + j, per head; V (columns 128..255) unchanged
        float[] w12 = GgufReader.open(permuted).readF32("blk.1.dkv_enc_w12.weight"); // row 0: column c held c
        assertThat(new float[] {w12[0], w12[1], w12[2], w12[3], w12[62], w12[63], w12[64], w12[65], w12[127]})
                .containsExactly(0, 32, 1, 33, 31, 63, 64, 96, 127);
        assertThat(w12[128]).isEqualTo(128);
        assertThat(w12[200]).isEqualTo(200);
        float[] dec = GgufReader.open(permuted).readF32("blk.5.dkv_dec.weight"); // column 0: row r held r
        assertThat(new float[] {dec[0], dec[D], dec[2 * D], dec[65 * D], dec[130 * D]}).containsExactly(0, 32, 1, 96, 130);
        float[] same = GgufReader.open(plain).readF32("blk.1.dkv_enc_w12.weight");
        assertThat(new float[] {same[1], same[2], same[65]}).containsExactly(1, 2, 65);
        assertThat(GgufReader.open(permuted).string("deltakv.encoder")).isEqualTo("swiglu");
        assertThat(GgufReader.open(permuted).integer("deltakv.encoder_ff")).isEqualTo(FF);
    }

    @Test
    void the_checkpoints_config_gives_its_reference_rule_and_bf16_weights_stay_bf16() throws Exception {
        Path ckpt = checkpoint(tmp.resolve("ckpt"), false, KV_DIM, false);
        Path side = tmp.resolve("c.gguf");
        CheckpointConverter.Result paper = CheckpointConverter.convert(ckpt, TestModels.kvtiny(), side, List.of(0), 4,
                null);
        assertThat(paper.settingsFrom()).isEqualTo("the paper's defaults");
        assertThat(paper.weights()).isEqualTo(GgufWriter.TensorType.BF16);
        assertThat(GgufReader.open(side).tensors().get("blk.1.dkv_enc_w12.weight").type()).isEqualTo(30); // BF16
        assertThat(GgufReader.open(side).tensors().get("blk.1.dkv_dec.weight").type()).isEqualTo(30);

        Files.writeString(ckpt.resolve("config.json"), "{\"deltakv_k_neighbors\": 8, \"cluster_ratio\": 0.2, "
                + "\"cluster_metric\": \"l2\", \"kv_compressed_size\": " + D + ", \"split_kv\": false}");
        CheckpointConverter.Result r = CheckpointConverter.convert(ckpt, TestModels.kvtiny(), side, List.of(0), 4, null);
        assertThat(r.neighbors()).isEqualTo(8);
        assertThat(r.stride()).isEqualTo(5);
        assertThat(r.settingsFrom()).endsWith("config.json");
        GgufReader file = GgufReader.open(side);
        assertThat(file.integer("deltakv.n_neighbors")).isEqualTo(8);
        assertThat(file.integer("deltakv.center_stride")).isEqualTo(5);
        assertThat(file.integer("deltakv.latent_bits")).isEqualTo(4);
        // the side file loads and runs with those settings
        try (DeltaKvChatModel model = DeltaKvMemoryIT.kvtiny(DeltaKvConfig.of(side), 2048)) {
            assertThat(model.engine().deltaKvSettings()).containsEntry("n_neighbors", "8")
                    .containsEntry("center_stride", "5");
            assertThat(model.chat(UserMessage.from(Haystacks.needle(1500, 0.5, 61).message())).aiMessage()).isNotNull();
        }

        for (String wrong : List.of("{\"cluster_metric\": \"cosine\"}", "{\"split_kv\": true}",
                "{\"deltakv_neighbor_count\": 16}", "{\"cluster_ratio\": 0.9}", "{\"kv_compressed_size\": 32}")) {
            Files.writeString(ckpt.resolve("config.json"), wrong);
            assertThatThrownBy(() -> CheckpointConverter.convert(ckpt, TestModels.kvtiny(), tmp.resolve("w.gguf"),
                    List.of(0), 4, null)).as(wrong).isInstanceOf(DeltaKvException.class);
        }
        assertThat(tmp.resolve("w.gguf")).doesNotExist();
    }

    @Test
    void shared_keys_convert_and_wrong_checkpoints_fail_clearly() throws Exception {
        Path shared = checkpoint(tmp.resolve("shared"), true, KV_DIM, false);
        CheckpointConverter.convert(shared, TestModels.kvtiny(), tmp.resolve("s.gguf"), List.of(0), 4, null);
        assertThat(tmp.resolve("s.gguf")).isRegularFile();

        Path narrow = checkpoint(tmp.resolve("narrow"), false, 128, false);
        assertThatThrownBy(() -> CheckpointConverter.convert(narrow, TestModels.kvtiny(), tmp.resolve("x.gguf"),
                List.of(0), 16, null)).isInstanceOf(DeltaKvException.class).hasMessageContaining("256");
        assertThatThrownBy(() -> CheckpointConverter.convert(tmp.resolve("none"), TestModels.kvtiny(),
                tmp.resolve("y.gguf"), List.of(0), 16, null)).isInstanceOf(java.io.IOException.class);
        assertThatThrownBy(() -> CheckpointConverter.convert(shared, TestModels.kvtiny(), tmp.resolve("z.gguf"), null,
                16, null)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("full layers");
        assertThat(tmp.resolve("x.gguf")).doesNotExist();
    }
}
