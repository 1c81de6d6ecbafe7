//! `POST /v1/embeddings` in OpenAI's shape, with deterministic vectors: character trigrams of each
//! word hashed into a fixed number of dimensions, so texts that share word pieces ("colour" and
//! "color") are similar and unrelated texts are not — enough to test a semantic blend.

use serde_json::{json, Value};

/// Length of every vector.
pub const DIMENSIONS: usize = 256;

/// The vector for `text`, of unit length (all zeros for text without letters or digits).
pub fn embed(text: &str) -> Vec<f32> {
    let mut v = vec![0.0f32; DIMENSIONS];
    let lower = text.to_lowercase();
    for word in lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        let chars: Vec<char> = format!(" {word} ").chars().collect();
        for gram in chars.windows(3) {
            v[fnv1a(gram) % DIMENSIONS] += 1.0;
        }
    }
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    v
}

fn fnv1a(chars: &[char]) -> usize {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for c in chars {
        for b in (*c as u32).to_le_bytes() {
            hash ^= u64::from(b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash as usize
}

/// The answer to a request body, or a message saying what is wrong with it.
pub fn answer(body: &Value) -> Result<Value, String> {
    let inputs: Vec<&str> = match &body["input"] {
        Value::String(s) => vec![s.as_str()],
        Value::Array(items) => items
            .iter()
            .map(Value::as_str)
            .collect::<Option<_>>()
            .ok_or("`input` must be a string or an array of strings")?,
        _ => return Err("`input` is required".into()),
    };
    let tokens: usize = inputs.iter().map(|i| i.split_whitespace().count()).sum();
    Ok(json!({
        "object": "list",
        "model": body["model"],
        "data": inputs.iter().enumerate().map(|(i, text)| json!({
            "object": "embedding",
            "index": i,
            "embedding": embed(text),
        })).collect::<Vec<_>>(),
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cos(a: &[f32], b: &[f32]) -> f32 {
        a.iter().zip(b).map(|(x, y)| x * y).sum()
    }

    #[test]
    fn shared_word_pieces_make_texts_similar() {
        let a = embed("favourite colour");
        assert!(cos(&a, &embed("favorite color")) > 0.5);
        assert!(cos(&a, &embed("quarterly taxes")) < 0.2);
        assert!((cos(&a, &a) - 1.0).abs() < 1e-5);
    }
}
