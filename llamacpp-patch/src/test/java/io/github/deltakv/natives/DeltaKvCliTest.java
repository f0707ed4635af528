package io.github.deltakv.natives;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The llama.cpp CLI (llama-completion) with the DeltaKV flags, as a llama.cpp user runs it: --deltakv and
 * the overrides load the compressor, the run prints the DeltaKV memory by class, and a compressor made for
 * another model stops the run with the reason.
 */
class DeltaKvCliTest {

    @TempDir
    Path tmp;

    @Test
    void completion_runs_with_deltakv_flags_and_reports_the_memory() throws Exception {
        Path model = NativeTools.model("kvtiny-retrieval-q8_0.gguf");
        Path identity = tmp.resolve("identity.gguf");
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", model.toString(), identity.toString()).exit()).isZero();
        Path prompt = tmp.resolve("prompt.txt");
        Files.writeString(prompt, Files.readString(NativeTools.text()).substring(0, 16000));

        NativeTools.Run r = NativeTools.run(tmp, "llama-completion", "-m", model.toString(), "-f", prompt.toString(),
                "-n", "8", "-c", "8192", "-b", "8192", "-ub", "512", "-t", "2", "--temp", "0", "-no-cnv",
                "--no-warmup", "--deltakv", identity.toString(), "--deltakv-top-k", "512", "--deltakv-recent", "64");

        assertThat(r.exit()).as(r.output()).isZero();
        Matcher m = Pattern.compile("DeltaKV tokens = +(\\d+) \\((\\d+) compressed").matcher(r.output());
        assertThat(m.find()).as(r.output()).isTrue();
        long tokens = Long.parseLong(m.group(1));
        long compressed = Long.parseLong(m.group(2));
        assertThat(tokens).isGreaterThan(3000);
        assertThat(compressed).isGreaterThan(tokens - 8 - 2 * 64); // a 64-token recent window at most 127 raw
        assertThat(r.output()).containsPattern("DeltaKV bytes = +[0-9.]+ MiB used");
    }

    @Test
    void a_compressor_for_another_model_stops_the_cli_with_the_reason() throws Exception {
        Path kvtiny = NativeTools.model("kvtiny-retrieval-q8_0.gguf");
        Path stories = NativeTools.model("stories260K.gguf");
        Path other = tmp.resolve("stories.gguf");
        assertThat(NativeTools.run(tmp, "deltakv-sidefile", "write", stories.toString(), other.toString()).exit()).isZero();

        NativeTools.Run r = NativeTools.run(tmp, "llama-completion", "-m", kvtiny.toString(), "-p", "Hello", "-n", "4",
                "-no-cnv", "--no-warmup", "--deltakv", other.toString());

        assertThat(r.exit()).isNotZero();
        assertThat(r.output()).contains("failed to load DeltaKV compressor");
    }
}
