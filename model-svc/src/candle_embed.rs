//! A pretrained sentence-embedding model (BERT family) run in-process with
//! candle, loaded from a directory in the usual layout: `config.json`,
//! `model.safetensors` and `tokenizer.json` (plus an optional
//! `marquee.json` with query/passage prefixes, e.g. for E5 models).
//!
//! Mean pooling over the attention mask, then L2 normalisation, as
//! sentence-transformers does. Loading errors are typed; an embedding that
//! fails at run time (it should not) is logged and returned as zeros rather
//! than failing the request.

use std::path::{Path, PathBuf};

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::{BertModel, Config as BertConfig};
use tokenizers::{PaddingParams, PaddingStrategy, Tokenizer, TruncationParams};

use crate::embed::{Embedder, normalize};

/// Longest input in tokens (longer text is truncated).
const MAX_TOKENS: usize = 256;
/// Texts embedded in one forward pass.
const BATCH: usize = 16;

/// Optional extras beside the model files.
#[derive(Debug, Default, serde::Deserialize)]
struct Extras {
    #[serde(default)]
    query_prefix: String,
    #[serde(default)]
    passage_prefix: String,
    #[serde(default)]
    name: Option<String>,
}

/// Why a model directory could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ModelLoadError {
    /// A file is missing or unreadable.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// `config.json` or `marquee.json` is not valid.
    #[error("invalid {path}: {source}")]
    Config {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
    /// The tokenizer could not be loaded.
    #[error("invalid tokenizer: {0}")]
    Tokenizer(String),
    /// The weights do not fit the configuration.
    #[error("invalid weights: {0}")]
    Weights(#[from] candle_core::Error),
}

/// A BERT-family sentence embedder on the CPU.
pub struct CandleEmbedder {
    model: BertModel,
    tokenizer: Tokenizer,
    device: Device,
    dim: usize,
    name: String,
    extras: Extras,
}

impl std::fmt::Debug for CandleEmbedder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CandleEmbedder").field("name", &self.name).field("dim", &self.dim).finish_non_exhaustive()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, ModelLoadError> {
    std::fs::read(path).map_err(|source| ModelLoadError::Io { path: path.to_owned(), source })
}

impl CandleEmbedder {
    /// Loads the model in `dir`.
    ///
    /// # Errors
    /// When a file is missing or invalid.
    pub fn load(dir: &Path) -> Result<Self, ModelLoadError> {
        let config_path = dir.join("config.json");
        let config: BertConfig = serde_json::from_slice(&read(&config_path)?)
            .map_err(|source| ModelLoadError::Config { path: config_path, source })?;
        let extras_path = dir.join("marquee.json");
        let extras: Extras = if extras_path.is_file() {
            serde_json::from_slice(&read(&extras_path)?)
                .map_err(|source| ModelLoadError::Config { path: extras_path, source })?
        } else {
            Extras::default()
        };
        let mut tokenizer = Tokenizer::from_bytes(read(&dir.join("tokenizer.json"))?)
            .map_err(|e| ModelLoadError::Tokenizer(e.to_string()))?;
        tokenizer
            .with_truncation(Some(TruncationParams { max_length: MAX_TOKENS, ..Default::default() }))
            .map_err(|e| ModelLoadError::Tokenizer(e.to_string()))?;
        tokenizer.with_padding(Some(PaddingParams { strategy: PaddingStrategy::BatchLongest, ..Default::default() }));
        let device = Device::Cpu;
        let weights = read(&dir.join("model.safetensors"))?;
        let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &device)?;
        let model = BertModel::load(vb, &config)?;
        let name = extras
            .name
            .clone()
            .unwrap_or_else(|| dir.file_name().map_or_else(|| "bert".to_owned(), |n| n.to_string_lossy().into_owned()));
        Ok(Self { model, tokenizer, device, dim: config.hidden_size, name, extras })
    }

    fn forward(&self, texts: &[String]) -> Result<Vec<Vec<f32>>, String> {
        let enc = self.tokenizer.encode_batch(texts.to_vec(), true).map_err(|e| e.to_string())?;
        let ids: Vec<Tensor> = enc
            .iter()
            .map(|e| Tensor::new(e.get_ids(), &self.device))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let mask: Vec<Tensor> = enc
            .iter()
            .map(|e| Tensor::new(e.get_attention_mask(), &self.device))
            .collect::<Result<_, _>>()
            .map_err(|e| e.to_string())?;
        let run = || -> candle_core::Result<Vec<Vec<f32>>> {
            let ids = Tensor::stack(&ids, 0)?;
            let mask = Tensor::stack(&mask, 0)?;
            let types = ids.zeros_like()?;
            let out = self.model.forward(&ids, &types, Some(&mask))?;
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let summed = out.broadcast_mul(&m)?.sum(1)?;
            let counts = m.sum(1)?.clamp(1.0, f64::MAX)?;
            summed.broadcast_div(&counts)?.to_vec2::<f32>()
        };
        let mut vectors = run().map_err(|e| e.to_string())?;
        for v in &mut vectors {
            normalize(v);
        }
        Ok(vectors)
    }

    fn embed_prefixed(&self, prefix: &str, texts: &[&str]) -> Vec<Vec<f32>> {
        let mut out = Vec::with_capacity(texts.len());
        for chunk in texts.chunks(BATCH) {
            let owned: Vec<String> = chunk.iter().map(|t| format!("{prefix}{t}")).collect();
            match self.forward(&owned) {
                Ok(v) => out.extend(v),
                Err(e) => {
                    tracing::warn!(error = %e, model = %self.name, "embedding failed; using zero vectors");
                    out.extend(chunk.iter().map(|_| vec![0.0; self.dim]));
                }
            }
        }
        out
    }
}

impl Embedder for CandleEmbedder {
    fn name(&self) -> &str {
        &self.name
    }

    fn dim(&self) -> usize {
        self.dim
    }

    fn embed(&self, text: &str) -> Vec<f32> {
        self.embed_prefixed(&self.extras.passage_prefix, &[text]).pop().unwrap_or_else(|| vec![0.0; self.dim])
    }

    fn embed_batch(&self, texts: &[&str]) -> Vec<Vec<f32>> {
        self.embed_prefixed(&self.extras.passage_prefix, texts)
    }

    fn embed_query(&self, text: &str) -> Vec<f32> {
        self.embed_prefixed(&self.extras.query_prefix, &[text]).pop().unwrap_or_else(|| vec![0.0; self.dim])
    }
}
