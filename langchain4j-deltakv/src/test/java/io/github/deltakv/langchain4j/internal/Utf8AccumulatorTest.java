package io.github.deltakv.langchain4j.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;

import org.junit.jupiter.api.Test;

class Utf8AccumulatorTest {

    @Test
    void holds_back_a_character_split_across_tokens() {
        byte[] euroAndFish = "€🐟".getBytes(StandardCharsets.UTF_8); // 3 + 4 bytes
        Utf8Accumulator acc = new Utf8Accumulator();
        assertThat(acc.append(new byte[] {euroAndFish[0]})).isEmpty();
        assertThat(acc.append(new byte[] {euroAndFish[1], euroAndFish[2], euroAndFish[3]})).isEqualTo("€");
        assertThat(acc.append(new byte[] {euroAndFish[4], euroAndFish[5]})).isEmpty();
        assertThat(acc.append(new byte[] {euroAndFish[6], 'a'})).isEqualTo("🐟a");
        assertThat(acc.flush()).isEmpty();
    }

    @Test
    void flush_gives_back_an_incomplete_tail() {
        Utf8Accumulator acc = new Utf8Accumulator();
        assertThat(acc.append(new byte[] {'o', 'k', (byte) 0xE2})).isEqualTo("ok");
        assertThat(acc.flush()).isEqualTo("\uFFFD");
    }
}
