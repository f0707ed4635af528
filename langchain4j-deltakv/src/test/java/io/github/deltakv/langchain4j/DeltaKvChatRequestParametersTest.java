package io.github.deltakv.langchain4j;

import static org.assertj.core.api.Assertions.assertThat;

import dev.langchain4j.model.chat.request.ChatRequestParameters;

import org.junit.jupiter.api.Test;

class DeltaKvChatRequestParametersTest {

    private final DeltaKvChatRequestParameters defaults = DeltaKvChatRequestParameters.builder()
            .temperature(0.8).topK(40).minP(0.05).seed(7L).maxOutputTokens(100).build();

    @Test
    void plain_request_parameters_override_common_values_and_keep_ours() {
        ChatRequestParameters request = ChatRequestParameters.builder().temperature(0.0).maxOutputTokens(5).build();
        DeltaKvChatRequestParameters merged = defaults.overrideWith(request);
        assertThat(merged.temperature()).isEqualTo(0.0);
        assertThat(merged.maxOutputTokens()).isEqualTo(5);
        assertThat(merged.topK()).isEqualTo(40);
        assertThat(merged.minP()).isEqualTo(0.05);
        assertThat(merged.seed()).isEqualTo(7L);
    }

    @Test
    void our_request_parameters_override_ours_and_unset_values_do_not() {
        DeltaKvChatRequestParameters request = DeltaKvChatRequestParameters.builder().minP(0.1).build();
        DeltaKvChatRequestParameters merged = defaults.overrideWith(request);
        assertThat(merged.minP()).isEqualTo(0.1);
        assertThat(merged.seed()).isEqualTo(7L);
        assertThat(merged.temperature()).isEqualTo(0.8);
    }

    @Test
    void defaulted_by_is_the_mirror_of_override_with() {
        DeltaKvChatRequestParameters request = DeltaKvChatRequestParameters.builder().seed(1L).build();
        assertThat(request.defaultedBy(defaults)).isEqualTo(defaults.overrideWith(request));
    }
}
