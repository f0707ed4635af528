package io.github.deltakv.langchain4j.internal;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;

class PrefixCacheTest {

    private final List<Long> freed = new ArrayList<>();

    @Test
    void common_prefix_of_token_lists() {
        assertThat(PrefixCache.commonPrefix(new int[] {1, 2, 3}, new int[] {1, 2, 4, 5})).isEqualTo(2);
        assertThat(PrefixCache.commonPrefix(new int[] {}, new int[] {1})).isZero();
        assertThat(PrefixCache.commonPrefix(new int[] {1, 2}, new int[] {1, 2})).isEqualTo(2);
    }

    @Test
    void takes_the_entry_sharing_the_longest_prefix_if_longer_than_asked() {
        PrefixCache cache = new PrefixCache(1000, freed::add);
        cache.put(new int[] {1, 2, 3}, 101, 10);
        cache.put(new int[] {1, 2, 3, 4, 5}, 102, 20);

        assertThat(cache.takeBest(new int[] {1, 2, 3, 4, 9}, 4)).isNull();
        PrefixCache.Entry best = cache.takeBest(new int[] {1, 2, 3, 4, 9}, 2);
        assertThat(best.tokens()).containsExactly(1, 2, 3, 4, 5);
        assertThat(cache.stats().entries()).isEqualTo(1);
        assertThat(cache.stats().bytes()).isEqualTo(10);
        assertThat(cache.stats().hits()).isEqualTo(1);
        assertThat(cache.stats().tokensRestored()).isEqualTo(4);
    }

    @Test
    void an_entry_sharing_less_than_half_of_its_tokens_is_not_restored() {
        PrefixCache cache = new PrefixCache(1000, freed::add);
        cache.put(new int[] {1, 2, 3, 4, 5, 6, 7}, 103, 10); // a template's opening {1, 2, 3} and a conversation

        assertThat(cache.takeBest(new int[] {1, 2, 3, 9, 9}, 0)).isNull(); // 3 of 7: another conversation
        assertThat(cache.takeBest(new int[] {1, 2, 3, 4, 9}, 0).tokens()).hasSize(7); // 4 of 7: this one goes on
    }

    @Test
    void least_recently_used_entries_go_beyond_the_budget() {
        PrefixCache cache = new PrefixCache(25, freed::add);
        cache.put(new int[] {1}, 104, 10);
        cache.put(new int[] {2}, 105, 10);
        cache.put(new int[] {3}, 106, 10); // 30 > 25: the oldest goes
        assertThat(cache.stats().entries()).isEqualTo(2);
        assertThat(cache.takeBest(new int[] {1}, 0)).isNull();
        assertThat(freed).containsExactly(104L); // the dropped state is freed
        assertThat(cache.fits(100)).isFalse();
        cache.put(new int[] {4}, 107, 100); // larger than the budget: not kept, freed
        assertThat(cache.stats().bytes()).isEqualTo(20);
        assertThat(freed).containsExactly(104L, 107L);
        cache.clear();
        assertThat(freed).containsExactlyInAnyOrder(104L, 107L, 105L, 106L);
        assertThat(cache.stats().bytes()).isZero();
    }
}
