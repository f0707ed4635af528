package io.github.deltakv.langchain4j.internal;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code --key value} arguments of the command-line entry points (calibration, checkpoint conversion, the
 * accuracy suite). A wrong argument prints the reason and the usage line and exits with status 2.
 */
public final class CommandLineOptions {

    private final Map<String, String> values = new HashMap<>();

    private CommandLineOptions() {
    }

    /** Parses {@code args}; exits with the usage line when one is not {@code --key value} or a required key is missing. */
    public static CommandLineOptions parse(String[] args, String usage, String... required) {
        CommandLineOptions o = new CommandLineOptions();
        for (int i = 0; i < args.length; i += 2) {
            if (!args[i].startsWith("--") || i + 1 == args.length) {
                exit("expected --key value, got " + args[i], usage);
            }
            o.values.put(args[i].substring(2), args[i + 1]);
        }
        for (String key : required) {
            if (!o.values.containsKey(key)) {
                exit("--" + key + " is required", usage);
            }
        }
        return o;
    }

    public boolean has(String key) {
        return values.containsKey(key);
    }

    /** The value, or null. */
    public String get(String key) {
        return values.get(key);
    }

    public String get(String key, String orElse) {
        return values.getOrDefault(key, orElse);
    }

    public int getInt(String key, int orElse) {
        return has(key) ? Integer.parseInt(get(key)) : orElse;
    }

    /** A comma-separated list of integers. */
    public static List<Integer> ints(String csv) {
        return Arrays.stream(csv.split(",")).map(String::strip).map(Integer::valueOf).toList();
    }

    private static void exit(String why, String usage) {
        System.err.println(why);
        System.err.println("usage: " + usage);
        System.exit(2);
    }
}
