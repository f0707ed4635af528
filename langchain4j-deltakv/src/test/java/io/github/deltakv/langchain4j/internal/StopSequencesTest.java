package io.github.deltakv.langchain4j.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Arrays;
import java.util.List;

import org.junit.jupiter.api.Test;

class StopSequencesTest {

    @Test
    void finds_the_earliest_stop_string() {
        StopSequences stops = new StopSequences(List.of("World", "lo"));
        assertThat(stops.firstMatch("Hello World")).isEqualTo(3);
        assertThat(stops.firstMatch("Hi there")).isEqualTo(-1);
    }

    @Test
    void holds_back_a_tail_that_may_become_a_stop_string() {
        StopSequences stops = new StopSequences(List.of("<end>", "STOP"));
        assertThat(stops.safeLength("answer <en")).isEqualTo(7);
        assertThat(stops.safeLength("answer ST")).isEqualTo(7);
        assertThat(stops.safeLength("answer <x")).isEqualTo(9);
        assertThat(stops.safeLength("")).isZero();
    }

    @Test
    void no_or_empty_stop_strings_hold_nothing_back() {
        assertThat(new StopSequences(null).safeLength("abc")).isEqualTo(3);
        assertThat(new StopSequences(Arrays.asList("", null)).firstMatch("abc")).isEqualTo(-1);
    }
}
