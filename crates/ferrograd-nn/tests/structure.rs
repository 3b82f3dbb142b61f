//! The module model: structural names on a nested model, lists of blocks, tied weights
//! (named once, saved once, loaded into both places), freezing, and training mode.

use ferrograd_nn::{
    Dropout, Embedding, Forward, LayerNorm, Linear, Module, Relu, Sequential, StateDict, Visitor,
    load_checkpoint, named_parameters_with_aliases, save_checkpoint, visit_modules,
};
use ferrograd_tensor::{IdTensor, Rng, Tensor};

#[derive(Debug)]
struct Attention {
    q_proj: Linear,
    k_proj: Linear,
    dropout: Dropout,
}

#[derive(Debug)]
struct Block {
    norm: LayerNorm,
    attn: Attention,
    mlp: Sequential,
}

#[derive(Debug)]
struct Lm {
    embed: Embedding,
    blocks: Vec<Block>,
    head: Linear,
}

impl Module for Attention {
    fn visit(&self, v: &mut dyn Visitor) {
        v.module("q_proj", &self.q_proj);
        v.module("k_proj", &self.k_proj);
        v.module("dropout", &self.dropout);
    }
}

impl Module for Block {
    fn visit(&self, v: &mut dyn Visitor) {
        v.module("norm", &self.norm);
        v.module("attn", &self.attn);
        v.module("mlp", &self.mlp);
    }
}

impl Module for Lm {
    fn visit(&self, v: &mut dyn Visitor) {
        v.module("embed", &self.embed);
        v.modules("blocks", &self.blocks);
        v.module("head", &self.head);
    }
}

impl Forward<&IdTensor> for Lm {
    type Output = Tensor;
    fn forward(&self, ids: &IdTensor) -> ferrograd_nn::Result<Tensor> {
        let mut x = self.embed.forward(ids)?;
        for b in &self.blocks {
            let h = b.norm.forward(&x)?;
            let a = b.attn.dropout.forward(&b.attn.q_proj.forward(&h)?)?;
            x = x.add(&b.mlp.forward(&a.add(&b.attn.k_proj.forward(&h)?)?)?)?;
        }
        self.head.forward(&x)
    }
}

fn lm(tied: bool, seed: u64) -> Lm {
    let (vocab, d) = (11, 4);
    let mut rng = Rng::new(seed);
    let embed = Embedding::new(vocab, d, None, &mut rng);
    let blocks = (0..2)
        .map(|_| Block {
            norm: LayerNorm::new(&[d]),
            attn: Attention {
                q_proj: Linear::with_bias(d, d, false, &mut rng),
                k_proj: Linear::with_bias(d, d, false, &mut rng),
                dropout: Dropout::new(0.1, 3).unwrap(),
            },
            mlp: Sequential::new()
                .push(Linear::new(d, 2 * d, &mut rng))
                .push(Relu)
                .push(Linear::new(2 * d, d, &mut rng)),
        })
        .collect();
    let mut head = Linear::with_bias(d, vocab, false, &mut rng);
    if tied {
        head.weight = embed.weight.clone();
    }
    Lm {
        embed,
        blocks,
        head,
    }
}

fn names(m: &dyn Module) -> Vec<String> {
    m.named_parameters().into_iter().map(|(n, _)| n).collect()
}

#[test]
fn names_come_from_the_structure() {
    let model = lm(false, 0);
    let names = names(&model);
    assert_eq!(names.len(), 1 + 2 * 8 + 1);
    assert_eq!(
        &names[..10],
        [
            "embed.weight",
            "blocks.0.norm.weight",
            "blocks.0.norm.bias",
            "blocks.0.attn.q_proj.weight",
            "blocks.0.attn.k_proj.weight",
            "blocks.0.mlp.0.weight",
            "blocks.0.mlp.0.bias",
            "blocks.0.mlp.2.weight",
            "blocks.0.mlp.2.bias",
            "blocks.1.norm.weight",
        ]
    );
    assert_eq!(names.last().unwrap(), "head.weight");
    // PyTorch's named_modules(): the root, then every child with its path.
    let mut paths = Vec::new();
    visit_modules(&model, &mut |path, _| paths.push(path.to_string()));
    assert_eq!(
        &paths[..8],
        [
            "",
            "embed",
            "blocks.0",
            "blocks.0.norm",
            "blocks.0.attn",
            "blocks.0.attn.q_proj",
            "blocks.0.attn.k_proj",
            "blocks.0.attn.dropout"
        ]
    );
    // Training mode reaches a dropout three levels down.
    model.eval();
    assert!(!model.blocks[1].attn.dropout.is_training());
    model.train();
    assert!(model.blocks[1].attn.dropout.is_training());
}

#[test]
fn a_tied_weight_is_named_once_updated_once_saved_once_and_loaded_into_both_places() {
    let model = lm(true, 1);
    let untied = lm(false, 1);
    assert_eq!(
        model.num_parameters() + 11 * 4,
        untied.num_parameters(),
        "the shared table is counted once"
    );
    let all = names(&model);
    assert!(all.contains(&"embed.weight".to_string()) && !all.contains(&"head.weight".to_string()));
    let aliases: Vec<String> = named_parameters_with_aliases(&model)
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert!(aliases.contains(&"head.weight".to_string()));
    // One parameter in the optimizer's list, and both uses feed its one gradient.
    model.eval();
    let ids = IdTensor::from([[1, 5, 7]]);
    let grads = model
        .forward(&ids)
        .unwrap()
        .square()
        .sum_all()
        .backward()
        .unwrap();
    let params = model.parameters();
    assert_eq!(
        params
            .iter()
            .filter(|p| p.id() == model.embed.weight.id())
            .count(),
        1
    );
    let g = grads.get(&model.embed.weight).unwrap().to_vec();
    // Rows of ids never looked up still get a gradient through the output projection.
    assert!(g[0..4].iter().any(|&v| v != 0.0), "row 0 via the head");
    // Saved once...
    let path =
        std::env::temp_dir().join(format!("ferrograd-tied-{}.safetensors", std::process::id()));
    save_checkpoint(&model, &path).unwrap();
    let stored: Vec<String> = ferrograd_tensor::io::load_safetensors(&path)
        .unwrap()
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(
        stored
            .iter()
            .filter(|n| n.ends_with("embed.weight"))
            .count(),
        1
    );
    assert!(!stored.contains(&"head.weight".to_string()));
    // ... and loaded into both places, which are one.
    let fresh = lm(true, 2);
    load_checkpoint(&fresh, &path).unwrap();
    assert_eq!(
        fresh.embed.weight.tensor().to_vec(),
        model.embed.weight.tensor().to_vec()
    );
    assert_eq!(
        fresh.head.weight.tensor().to_vec(),
        model.embed.weight.tensor().to_vec()
    );
    fresh.eval();
    assert_eq!(
        fresh.forward(&ids).unwrap().to_vec(),
        model.forward(&ids).unwrap().to_vec()
    );
    // A PyTorch state_dict lists the tied weight under both names: that loads too.
    let mut both = StateDict::from_module(&model);
    both.insert("head.weight", model.embed.weight.tensor());
    let again = lm(true, 3);
    ferrograd_nn::load_state_dict(&again, &both, &ferrograd_nn::LoadOptions::strict()).unwrap();
    assert_eq!(
        again.head.weight.tensor().to_vec(),
        model.embed.weight.tensor().to_vec()
    );
    // An untied checkpoint (the two names hold different values) cannot go into one tied
    // parameter: strict says so and changes nothing; lenient takes the first name's value
    // and reports the other.
    let mut untied = StateDict::from_module(&model);
    untied.insert("head.weight", model.embed.weight.tensor().add_scalar(1.0));
    let target = lm(true, 5);
    let before = target.embed.weight.tensor().to_vec();
    let err = ferrograd_nn::load_state_dict(&target, &untied, &ferrograd_nn::LoadOptions::strict())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("load_state_dict") && err.contains("`head.weight` is a tied parameter"),
        "{err}"
    );
    assert_eq!(target.embed.weight.tensor().to_vec(), before);
    let report =
        ferrograd_nn::load_state_dict(&target, &untied, &ferrograd_nn::LoadOptions::lenient())
            .unwrap();
    assert_eq!(report.conflicting, ["head.weight"]);
    assert_eq!(
        target.embed.weight.tensor().to_vec(),
        model.embed.weight.tensor().to_vec()
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn freezing_a_module_removes_its_gradients_and_keeps_the_rest() {
    let ids = IdTensor::from([[2, 3, 4], [9, 8, 7]]);
    let model = lm(false, 4);
    model.eval();
    let reference = model
        .forward(&ids)
        .unwrap()
        .square()
        .mean_all()
        .backward()
        .unwrap();
    let total = model.num_trainable_parameters();
    model.blocks[0].freeze();
    model.embed.freeze();
    let frozen_count = model.blocks[0].num_parameters() + model.embed.num_parameters();
    assert_eq!(model.num_trainable_parameters(), total - frozen_count);
    assert_eq!(
        model.trainable_parameters().len(),
        model.parameters().len() - 9
    );
    let grads = model
        .forward(&ids)
        .unwrap()
        .square()
        .mean_all()
        .backward()
        .unwrap();
    for (name, p) in model.named_parameters() {
        let frozen = name.starts_with("blocks.0.") || name.starts_with("embed.");
        match (frozen, grads.get(&p)) {
            (true, g) => assert!(g.is_none(), "{name} is frozen"),
            (false, Some(g)) => assert_eq!(
                g.to_vec(),
                reference.get(&p).unwrap().to_vec(),
                "{name}: the unfrozen gradient is unchanged"
            ),
            (false, None) => panic!("{name} lost its gradient"),
        }
    }
    model.unfreeze();
    assert_eq!(model.num_trainable_parameters(), total);
}
