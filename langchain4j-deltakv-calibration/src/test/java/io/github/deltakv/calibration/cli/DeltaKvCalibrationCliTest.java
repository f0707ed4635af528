package io.github.deltakv.calibration.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The command line's help, its usage errors (exit code 2) and its failures (exit code 1), without a model. */
class DeltaKvCalibrationCliTest {

    @TempDir
    Path tmp;

    private final StringWriter out = new StringWriter();
    private final StringWriter err = new StringWriter();

    private int run(String... args) {
        return DeltaKvCalibrationCli.commandLine()
                .setOut(new PrintWriter(out, true))
                .setErr(new PrintWriter(err, true))
                .execute(args);
    }

    @Test
    void help_lists_the_subcommands_and_their_options() {
        assertThat(run("--help")).isZero();
        assertThat(out.toString()).contains("deltakv-calibration", "calibrate", "convert");

        assertThat(run("calibrate", "--help")).isZero();
        assertThat(out.toString()).contains("--model", "--out", "--latent-dim", "--latent-bits", "--full-layers",
                "--text", "--max-tokens", "--threads");

        assertThat(run("convert", "--help")).isZero();
        assertThat(out.toString()).contains("--checkpoint", "--permute-k");
    }

    @Test
    void wrong_arguments_are_named_with_the_usage_and_exit_code_2() {
        assertThat(run()).isEqualTo(2);
        assertThat(err.toString()).contains("Missing subcommand", "Usage:");

        assertThat(run("calibrate", "--model", "m.gguf", "--out", "o.gguf")).isEqualTo(2);
        assertThat(err.toString()).contains("Missing required option: '--latent-dim=D'");

        assertThat(run("calibrate", "--model", "m.gguf", "--out", "o.gguf", "--latent-dim", "64",
                "--full-layers", "0,x")).isEqualTo(2);
        assertThat(err.toString()).contains("'0,x' is not a list of layers (0,4) nor auto:N");

        assertThat(run("convert", "--checkpoint", "c", "--model", "m.gguf", "--out", "o.gguf",
                "--permute-k", "maybe")).isEqualTo(2);
        assertThat(err.toString()).contains("--permute-k");

        assertThat(run("calibration")).isEqualTo(2);
        assertThat(err.toString()).contains("Unmatched argument", "calibration");
    }

    @Test
    void a_failure_prints_its_reason_without_a_stack_trace_and_exits_with_1() {
        Path missing = tmp.resolve("missing.gguf");

        assertThat(run("calibrate", "--model", missing.toString(), "--out", tmp.resolve("o.gguf").toString(),
                "--latent-dim", "64")).isEqualTo(1);
        assertThat(err.toString()).isEqualTo("error: model file not found: " + missing + System.lineSeparator());

        assertThat(run("convert", "--checkpoint", tmp.toString(), "--model", missing.toString(),
                "--out", tmp.resolve("o.gguf").toString())).isEqualTo(1);
        assertThat(err.toString()).contains("error: NoSuchFileException: " + missing).doesNotContain("\tat ");
    }

    @Test
    void full_layers_are_a_list_or_a_count_to_choose() {
        FullLayers.Converter converter = new FullLayers.Converter();

        assertThat(converter.convert("0, 4")).isEqualTo(new FullLayers(List.of(0, 4), null));
        assertThat(converter.convert("auto:2")).isEqualTo(new FullLayers(null, 2));
    }
}
