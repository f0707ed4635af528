package io.github.deltakv.calibration.cli;

import java.util.Arrays;
import java.util.List;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.TypeConversionException;

/** The value of {@code --full-layers}: the layers themselves ({@code 0,4}) or how many to choose ({@code auto:N}). */
record FullLayers(List<Integer> layers, Integer count) {

    static final class Converter implements ITypeConverter<FullLayers> {
        @Override
        public FullLayers convert(String value) {
            if (value.startsWith("auto:")) {
                return new FullLayers(null, number(value.substring(5), value));
            }
            return new FullLayers(Arrays.stream(value.split(",")).map(n -> number(n, value)).toList(), null);
        }

        private static int number(String n, String value) {
            try {
                return Integer.parseInt(n.strip());
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + value + "' is not a list of layers (0,4) nor auto:N");
            }
        }
    }
}
