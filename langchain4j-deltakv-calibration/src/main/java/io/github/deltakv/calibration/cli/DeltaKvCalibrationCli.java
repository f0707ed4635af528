package io.github.deltakv.calibration.cli;

import io.github.deltakv.langchain4j.DeltaKvException;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.Spec;

/**
 * The command line of the calibration tools: {@code calibrate} makes a DeltaKV compressor for a GGUF model,
 * {@code convert} turns a paper compressor checkpoint into one. Exit codes: 0 done, 1 the work failed (the
 * reason on stderr), 2 wrong arguments (the reason and the usage on stderr).
 *
 * <pre>
 * deltakv-calibration calibrate --model model.gguf --out model.deltakv.gguf --latent-dim 64
 * deltakv-calibration convert --checkpoint DIR --model model.gguf --out model.deltakv.gguf
 * deltakv-calibration --help
 * </pre>
 */
@Command(name = "deltakv-calibration",
        description = "Makes DeltaKV compressors (side files) for GGUF models.",
        subcommands = {CalibrateCommand.class, ConvertCommand.class})
public final class DeltaKvCalibrationCli implements Runnable {

    @Spec
    CommandSpec spec;

    @Option(names = {"-h", "--help"}, usageHelp = true, scope = ScopeType.INHERIT, description = "Show this help.")
    boolean help;

    /** Runs the command line and exits with its exit code. */
    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The command line, ready to {@code execute(args)}: it returns the exit code instead of exiting. */
    public static CommandLine commandLine() {
        return new CommandLine(new DeltaKvCalibrationCli())
                .setExecutionExceptionHandler(DeltaKvCalibrationCli::printFailure);
    }

    @Override
    public void run() {
        throw new ParameterException(spec.commandLine(), "Missing subcommand: calibrate or convert");
    }

    /** A failure of the work itself: its message on stderr, no stack trace; exit code 1. */
    private static int printFailure(Exception e, CommandLine command, ParseResult parsed) {
        boolean explained = e instanceof IllegalArgumentException || e instanceof DeltaKvException;
        String what = explained ? "" : e.getClass().getSimpleName() + ": ";
        command.getErr().println("error: " + what + e.getMessage());
        return command.getCommandSpec().exitCodeOnExecutionException();
    }
}
