package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * DeltaKV side files through the patched llama.cpp (llama_deltakv_load, via deltakv-sidefile): good files
 * load with their settings; files for another model, of another type, incomplete or truncated are refused
 * with a message that names the cause. Also the int4 latent quantiser against hand-computed answers.
 */
class DeltaKvSideFileTest {

    @TempDir
    Path tmp;

    private final Path kvtiny = NativeTools.model("kvtiny-retrieval-q8_0.gguf");

    @Test
    void int4_quantiser_matches_the_spec_formula_bit_for_bit() throws Exception {
        NativeTools.Run r = NativeTools.run(tmp, "deltakv-sidefile", "int4-selftest");
        assertThat(r.output()).contains("3 vectors, 0 mismatches");
        assertThat(r.exit()).isZero();
    }

    @Test
    void an_identity_compressor_loads_with_its_settings() throws Exception {
        Path file = tmp.resolve("identity.gguf");
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", kvtiny.toString(), file.toString()).exit()).isZero();

        NativeTools.Run r = NativeTools.run(tmp, "deltakv-sidefile", "check", kvtiny.toString(), file.toString());

        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("architecture=llama", "n_layer=6", "n_head_kv=2", "head_dim=64", "kv_dim=256",
                "latent_dim=256", "encoder=linear", "full_layers=0", "n_sink=8", "n_recent=128", "n_neighbors=4",
                "center_stride=10", "latent_bits=16");
    }

    @Test
    void a_side_file_records_the_model_it_was_made_for() throws Exception {
        Path own = tmp.resolve("own.gguf");
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", kvtiny.toString(), own.toString()).exit()).isZero();
        NativeTools.Run r = NativeTools.run(tmp, "deltakv-sidefile", "check", kvtiny.toString(), own.toString());
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("model_name=kvtiny-retrieval", "model_matches=yes")
                .containsPattern("model_layout=[0-9a-f]{16}\n").doesNotContain("was made for model");

        // another model's layout (same shape): it loads, with a warning
        Path other = tmp.resolve("other.gguf");
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", kvtiny.toString(), other.toString(),
                "--model-name", "another", "--model-layout", "0123456789abcdef").exit()).isZero();
        r = NativeTools.run(tmp, "deltakv-sidefile", "check", kvtiny.toString(), other.toString());
        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("model_matches=no", "was made for model 'another' (tensor layout "
                + "0123456789abcdef), this model 'kvtiny-retrieval' has layout");
    }

    @Test
    void a_swiglu_compressor_with_int4_latents_loads() throws Exception {
        Path file = tmp.resolve("swiglu.gguf");
        NativeTools.Run w = NativeTools.run(tmp, "deltakv-sidefile", "write", kvtiny.toString(), file.toString(),
                "--kind", "random", "--encoder", "swiglu", "--latent-dim", "64", "--ff", "96", "--full-layers", "0,3",
                "--bits", "4");
        assertThat(w.exit()).as(w.output()).isZero();

        NativeTools.Run r = NativeTools.run(tmp, "deltakv-sidefile", "check", kvtiny.toString(), file.toString());

        assertThat(r.exit()).as(r.output()).isZero();
        assertThat(r.output()).contains("latent_dim=64", "encoder=swiglu", "full_layers=0,3", "latent_bits=4");
    }

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', value = {
        "wrong architecture | --arch,qwen2 | made for architecture 'qwen2', the model is 'llama'",
        "wrong layer count | --n-layer,7 | made for n_layer = 7, the model has n_layer = 6",
        "wrong KV heads | --n-head-kv,4 | made for n_head_kv = 4, the model has n_head_kv = 2",
        "wrong head size | --head-dim,32 | made for head_dim = 32, the model has head_dim = 64",
        "wrong type | --type,adapter | general.type is 'adapter', expected 'deltakv'",
        "missing tensor | --drop,blk.2.dkv_dec.weight | has no tensor 'blk.2.dkv_dec.weight'",
        "layer 0 not full | --full-layers,1 | layer 0 must be a full layer",
        "no layer to compress | --full-layers,0;1;2;3;4;5 | nothing to compress",
        // settings out of range crashed a process (a division by zero, no latent slot) or broke every call
        "stride 0 | --stride,0 | the side file's center_stride must be in [2, 1048576], it has 0",
        "stride 1 | --stride,1 | the side file's center_stride must be in [2, 1048576], it has 1",
        "recent window 0 | --recent,0 | the side file's n_recent must be in [1, 1048576], it has 0",
        "no neighbours | --neighbors,0 | the side file's n_neighbors must be in [1, 8], it has 0",
        "9 neighbours | --neighbors,9 | the side file's n_neighbors must be in [1, 8], it has 9",
        "top-k 0 | --top-k,0 | the side file's top_k must be in [1, 1073741824], it has 0",
        "top-k 2^31 | --top-k,2147483648 | the side file's top_k must be in [1, 1073741824], it has 2147483648",
        // NaN weights loaded and gave empty answers
        "a NaN weight | --nan,blk.3.dkv_dec.weight | tensor 'blk.3.dkv_dec.weight' holds a weight that is not a finite",
    })
    void a_side_file_for_another_model_or_of_another_kind_is_refused(String what, String options, String message)
            throws Exception {
        Path file = tmp.resolve("bad.gguf");
        String[] opts = Arrays.stream(options.split(",")).map(o -> o.replace(';', ',')).toArray(String[]::new);
        String[] args = new String[3 + opts.length];
        args[0] = "write";
        args[1] = kvtiny.toString();
        args[2] = file.toString();
        System.arraycopy(opts, 0, args, 3, opts.length);
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", args).exit()).isZero();

        NativeTools.Run r = NativeTools.run(tmp, "deltakv-sidefile", "check", kvtiny.toString(), file.toString());

        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.output()).contains("failed to load DeltaKV side file").contains(message);
    }

    @Test
    void a_truncated_side_file_is_refused() throws Exception {
        Path file = tmp.resolve("identity.gguf");
        NativeTools.run(tmp, "deltakv-sidefile", "write", kvtiny.toString(), file.toString());
        byte[] whole = Files.readAllBytes(file);
        for (int length : new int[] {16, 3000, whole.length - 1000}) {
            Path cut = Files.write(tmp.resolve("cut-" + length + ".gguf"), Arrays.copyOf(whole, length));
            NativeTools.Run r = NativeTools.run(tmp, "deltakv-sidefile", "check", kvtiny.toString(), cut.toString());
            assertThat(r.exit()).as("cut at %d bytes", length).isEqualTo(1);
            assertThat(r.output()).containsAnyOf("truncated", "cannot read");
        }
    }

    @Test
    void a_model_file_is_not_a_side_file() throws Exception {
        NativeTools.Run r = NativeTools.run(tmp, "deltakv-sidefile", "check", kvtiny.toString(), kvtiny.toString());
        assertThat(r.exit()).isEqualTo(1);
        assertThat(r.output()).contains("not a DeltaKV side file");
    }
}
