#include "chat_format.h"

#include "json.h"

#include <algorithm>
#include <cctype>
#include <memory>
#include <regex>
#include <stdexcept>

namespace dkv {

chat_templates * new_chat_templates(const llama_model * model, const std::string & template_override) {
    if (!template_override.empty()) {
        // parsed here first for the reason: common_chat_templates_init logs it and rethrows a bare std::exception
        try {
            common_chat_template parsed(template_override, "", "");
        } catch (const std::exception & e) {
            throw std::runtime_error(std::string("the chat template does not parse: ") + e.what());
        }
    }
    auto * t = new chat_templates();
    t->tmpls = common_chat_templates_init(model, template_override);
    if (!t->tmpls) {
        delete t;
        throw std::runtime_error("cannot initialise the chat template");
    }
    return t;
}

std::string apply_chat_template(const chat_templates * t, const std::string & messages_json,
                                bool add_generation_prompt) {
    common_chat_templates_inputs inputs;
    inputs.messages              = common_chat_msgs_parse_oaicompat(common_json::parse(messages_json));
    inputs.add_generation_prompt = add_generation_prompt;
    inputs.use_jinja             = true;
    return common_chat_templates_apply(t->tmpls.get(), inputs).prompt;
}

// a capability of the template (the tool-use variant's, when the model has one)
static bool has_cap(const chat_templates * t, const char * name) {
    const auto caps = common_chat_templates_get_caps(t->tmpls.get());
    const auto it   = caps.find(name);
    return it != caps.end() && it->second;
}

bool template_supports_tools(const chat_templates * t) {
    return has_cap(t, "supports_tools");
}

bool template_supports_tool_calls(const chat_templates * t) {
    return has_cap(t, "supports_tools") && has_cap(t, "supports_tool_calls");
}

chat_call * new_chat_call(const chat_templates * t, const std::string & messages_json, const std::string & tools_json,
                          const std::string & tool_choice, const std::string & json_schema) {
    common_chat_templates_inputs inputs;
    inputs.messages              = common_chat_msgs_parse_oaicompat(common_json::parse(messages_json));
    inputs.tools                 = common_chat_tools_parse_oaicompat(common_json::parse(tools_json));
    inputs.tool_choice           = common_chat_tool_choice_parse_oaicompat(tool_choice);
    inputs.parallel_tool_calls   = has_cap(t, "supports_parallel_tool_calls");
    inputs.json_schema           = json_schema;
    inputs.add_generation_prompt = true;
    inputs.use_jinja             = true;

    auto call      = std::make_unique<chat_call>();
    call->required = inputs.tool_choice == COMMON_CHAT_TOOL_CHOICE_REQUIRED;
    call->params   = common_chat_templates_apply(t->tmpls.get(), inputs);
    call->parser   = common_chat_parser_params(call->params); // copies only the format and the generation prompt
    if (!call->params.parser.empty()) {
        call->parser.parser.load(call->params.parser);
    }
    return call.release();
}

std::string parse_chat_answer(const chat_call * c, const std::string & text, bool partial) {
    const common_chat_msg msg = common_chat_parse(text, partial, c->parser);
    common_json calls         = common_json::array();
    for (const auto & tc : msg.tool_calls) {
        calls.push_back({ { "name", tc.name }, { "arguments", tc.arguments }, { "id", tc.id } });
    }
    const common_json out = {
        { "content", msg.content },
        { "reasoning_content", msg.reasoning_content },
        { "tool_calls", calls },
    };
    return out.dump();
}

// The tokens of the generation prompt as the prompt holds them: the tail of the prompt's tokens after those of
// the text before it, when the two agree (a SentencePiece vocabulary would put a space before the generation
// prompt tokenized alone); else the generation prompt tokenized alone, less a leading space-piece, as
// llama-server does.
static std::vector<llama_token> generation_prompt_tokens(const common_chat_params & p, const llama_vocab * vocab) {
    const std::string & gen = p.generation_prompt;
    if (p.prompt.size() >= gen.size() && p.prompt.compare(p.prompt.size() - gen.size(), gen.size(), gen) == 0) {
        const auto all    = tokenize(vocab, p.prompt, false, true);
        const auto before = tokenize(vocab, p.prompt.substr(0, p.prompt.size() - gen.size()), false, true);
        if (before.size() < all.size() && std::equal(before.begin(), before.end(), all.begin())) {
            return { all.begin() + (std::ptrdiff_t) before.size(), all.end() };
        }
    }
    std::vector<llama_token> out;
    const auto ids = tokenize(vocab, gen, false, true);
    for (size_t i = 0; i < ids.size(); ++i) {
        const std::string piece = token_piece(vocab, ids[i], true);
        if (i == 0 && !piece.empty() && std::isspace((unsigned char) piece[0]) && !std::isspace((unsigned char) gen[0])) {
            continue; // a tokenizer's space before the first special token
        }
        out.push_back(ids[i]);
    }
    return out;
}

// llama.cpp's grammar for tool_choice "required" reads `root ::= "<generation prompt>" space until-N? tool-calls`:
// the generation prompt (already in the prompt), optional text up to the tool-call marker, then the calls. Makes
// the root `space tool-calls`; false (grammar unchanged) when the root does not have that shape.
static bool tool_calls_only(std::string & grammar) {
    static const std::regex root(R"((^|\n)root ::= "(?:[^"\\]|\\.)*" space until-[0-9]+\? ([^\n]+))");
    std::smatch m;
    if (!std::regex_search(grammar, m, root)) {
        return false;
    }
    grammar.replace((size_t) m.position(0), (size_t) m.length(0), m.str(1) + "root ::= space " + m.str(2));
    return true;
}

void constrain_sampling(const chat_call * c, const llama_vocab * vocab, sampling_params & sp) {
    const common_chat_params & p = c->params;
    sp.grammar                   = p.grammar;
    sp.grammar_lazy              = p.grammar_lazy && !p.grammar.empty();
    for (const auto & s : p.preserved_tokens) {
        const auto ids = tokenize(vocab, s, false, true);
        if (ids.size() == 1) {
            sp.special_tokens.push_back(ids[0]);
        }
    }
    for (const auto & t : p.grammar_triggers) {
        switch (t.type) {
            case COMMON_GRAMMAR_TRIGGER_TYPE_WORD: {
                const auto ids = tokenize(vocab, t.value, false, true);
                const bool one_preserved = ids.size() == 1 &&
                    std::find(sp.special_tokens.begin(), sp.special_tokens.end(), ids[0]) != sp.special_tokens.end();
                if (one_preserved) {
                    sp.grammar_trigger_tokens.push_back(ids[0]);
                } else {
                    sp.grammar_trigger_patterns.push_back(regex_escape(t.value));
                }
                break;
            }
            case COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN:
                sp.grammar_trigger_patterns.push_back(t.value);
                break;
            case COMMON_GRAMMAR_TRIGGER_TYPE_PATTERN_FULL: {
                const std::string & v = t.value;
                sp.grammar_trigger_patterns.push_back(
                    v.empty() ? "^$" : (v.front() != '^' ? "^" : "") + v + (v.back() != '$' ? "$" : ""));
                break;
            }
            case COMMON_GRAMMAR_TRIGGER_TYPE_TOKEN:
                sp.grammar_trigger_tokens.push_back(t.token);
                break;
        }
    }
    if (sp.grammar_lazy && sp.grammar_trigger_patterns.empty() && sp.grammar_trigger_tokens.empty()) {
        throw std::runtime_error("the chat template gives a lazy tool-call grammar without triggers");
    }
    if (!sp.grammar.empty() && !sp.grammar_lazy && c->required && tool_calls_only(sp.grammar)) {
        return; // the new root starts at the answer: nothing to prefill
    }
    if (!sp.grammar.empty() && !sp.grammar_lazy && !p.generation_prompt.empty()) {
        // a non-lazy tool-call grammar starts with the generation prompt, which the prompt already holds
        sp.grammar_prefill = generation_prompt_tokens(p, vocab);
    }
}

std::string template_source(const chat_templates * t) {
    return common_chat_templates_source(t->tmpls.get());
}

} // namespace dkv
