//! Choosing each answer token, with a schema's grammar checked on the chosen token only.
//!
//! Why: applying a llama.cpp grammar to the whole vocabulary tests every token (49,152 for
//! SmolLM2) against the grammar's stacks, every step; on a small model that costs more than the
//! decode itself. llama.cpp's own common sampler (`common_sampler_sample`) instead samples from
//! the free distribution, checks only that token against the grammar, and filters the whole
//! vocabulary only when the token is rejected. The answer is equally bound by the grammar; only
//! the cost of the usual, accepted, case changes.

use llama_cpp_2::context::LlamaContext;
use llama_cpp_2::sampling::LlamaSampler;
use llama_cpp_2::token::LlamaToken;
use llama_cpp_2::token::data::LlamaTokenData;
use llama_cpp_2::token::data_array::LlamaTokenDataArray;

/// The sampler chain of one request, and its grammar kept apart from it.
pub(crate) struct Picker {
    /// Top-k, top-p, temperature and the random draw; or greedy.
    chain: LlamaSampler,
    grammar: Option<LlamaSampler>,
    /// Tokens the grammar rejected, so the whole vocabulary was filtered for them.
    pub(crate) resampled: usize,
}

impl Picker {
    pub(crate) fn new(chain: LlamaSampler, grammar: Option<LlamaSampler>) -> Picker {
        Picker {
            chain,
            grammar,
            resampled: 0,
        }
    }

    /// The next token from the logits at `idx` of the last decode, accepted by the grammar (and
    /// by the chain) so both move on with it.
    pub(crate) fn pick(&mut self, ctx: &LlamaContext<'_>, idx: i32) -> LlamaToken {
        let Some(grammar) = self.grammar.as_mut() else {
            return self.chain.sample(ctx, idx);
        };
        let mut free = ctx.token_data_array_ith(idx);
        free.apply_sampler(&mut self.chain);
        let chosen = free.selected_token();
        let allowed = chosen.filter(|&token| {
            let mut single =
                LlamaTokenDataArray::new(vec![LlamaTokenData::new(token, 1.0, 0.0)], false);
            single.apply_sampler(grammar);
            single.data[0].logit().is_finite()
        });
        let token = match allowed {
            Some(token) => token,
            None => {
                // Rejected: as llama.cpp does, grammar first over the whole vocabulary, then
                // the chain over what is left.
                self.resampled += 1;
                let mut bound = ctx.token_data_array_ith(idx);
                bound.apply_sampler(grammar);
                bound.apply_sampler(&mut self.chain);
                bound
                    .selected_token()
                    .expect("the sampler chain ends in a draw that selects a token")
            }
        };
        grammar.accept(token);
        self.chain.accept(token);
        token
    }
}
