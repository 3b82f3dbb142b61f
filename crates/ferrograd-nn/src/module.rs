//! The module model: [`Module`] (structure: parameters, children, training mode,
//! freezing) and [`Forward`] (computation: any input to any output).
//!
//! PyTorch's `nn.Module` does both in one class; Rust keeps them apart so that a module's
//! structure can be walked through `&dyn Module` (for names, optimizers, checkpoints,
//! freezing) whatever its forward takes: a tensor, token ids, ids and positions, a KV
//! cache, a padding mask.

use crate::error::Result;
use ferrograd_tensor::{Parameter, Scalar, Tensor};

/// What a [`Module`] shows of its structure: each of its own parameters and each child
/// module, under the field name PyTorch would use.
///
/// A module calls these from [`Module::visit`], once per field, in declaration order;
/// names then come from the structure: a `Linear` in field `q_proj` of the attention in
/// field `attn` of block 0 of `blocks` owns `blocks.0.attn.q_proj.weight`.
pub trait Visitor<T: Scalar = f32> {
    /// A parameter owned by the module, e.g. `("weight", &self.weight)`.
    fn param(&mut self, name: &str, param: &Parameter<T>);

    /// A child module, e.g. `("fc1", &self.fc1)`; its own parameters and children are
    /// named under `name.`.
    fn module(&mut self, name: &str, module: &dyn Module<T>);
}

impl<T: Scalar> dyn Visitor<T> + '_ {
    /// A parameter that may be absent (a bias): visited when present.
    pub fn optional_param(&mut self, name: &str, param: Option<&Parameter<T>>) {
        if let Some(p) = param {
            self.param(name, p);
        }
    }

    /// A child module that may be absent: visited when present.
    pub fn optional_module(&mut self, name: &str, module: Option<&dyn Module<T>>) {
        if let Some(m) = module {
            self.module(name, m);
        }
    }

    /// A list of child modules (PyTorch's `nn.ModuleList`): element `i` is named
    /// `name.i`.
    pub fn modules<M: Module<T>>(&mut self, name: &str, modules: &[M]) {
        for (i, m) in modules.iter().enumerate() {
            self.module(&format!("{name}.{i}"), m);
        }
    }
}

/// A layer or a model's structure: PyTorch's `nn.Module` without `forward` (that is
/// [`Forward`]).
///
/// Implement one method, [`Module::visit`], with one line per field; everything else —
/// PyTorch-style dotted parameter names, parameter lists for optimizers, counts,
/// freezing, train/eval mode, checkpoints — follows from it. `Module` is object safe and
/// `Send + Sync`, so a model can be walked as `&dyn Module` and shared between threads.
///
/// - **Names** come from the structure (`"fc1.weight"`, `"blocks.0.attn.q_proj.weight"`),
///   as PyTorch's `named_parameters()` and `state_dict()` give them.
/// - **Tied weights**: a [`Parameter`] is a shared handle, so one parameter can sit in
///   two fields (a token embedding and the output projection). It is listed once, under
///   the first name visited (PyTorch's `named_parameters()` does the same), so an
///   optimizer updates it once and a checkpoint saves it once; loading fills both places,
///   which are one. For the same reason `.clone()` of a layer is tied to the
///   original; [`Module::deep_clone`] makes an independent copy.
/// - **Freezing**: [`Module::freeze`] marks every parameter not trainable; a frozen
///   parameter takes part in forward but records no gradient work.
/// - **Training mode** ([`Module::train`] / [`Module::eval`]) reaches every child; only
///   layers that behave differently (dropout) store it, through
///   [`Module::set_own_training`].
///
/// A model as a plain struct:
///
/// ```
/// use ferrograd_nn::{Dropout, Forward, Linear, Module, Relu, Visitor};
/// use ferrograd_tensor::{Rng, Tensor};
///
/// #[derive(Debug)]
/// struct TwoLayer { fc1: Linear, drop: Dropout, fc2: Linear }
///
/// impl Module for TwoLayer {
///     fn visit(&self, v: &mut dyn Visitor) {
///         v.module("fc1", &self.fc1);
///         v.module("drop", &self.drop);
///         v.module("fc2", &self.fc2);
///     }
/// }
///
/// impl Forward<&Tensor> for TwoLayer {
///     type Output = Tensor;
///     fn forward(&self, x: &Tensor) -> ferrograd_nn::Result<Tensor> {
///         let hidden = self.drop.forward(&Relu.forward(&self.fc1.forward(x)?)?)?;
///         self.fc2.forward(&hidden)
///     }
/// }
///
/// let mut rng = Rng::new(0);
/// let model = TwoLayer {
///     fc1: Linear::new(2, 4, &mut rng),
///     drop: Dropout::new(0.5, 1)?,
///     fc2: Linear::new(4, 1, &mut rng),
/// };
/// assert_eq!(model.num_parameters(), 2 * 4 + 4 + 4 + 1);
/// let names: Vec<String> = model.named_parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
/// model.eval(); // dropout off: forward is deterministic
/// let x = Tensor::ones(&[3, 2]);
/// assert_eq!(model.forward(&x)?.to_vec(), model.forward(&x)?.to_vec());
/// model.fc1.freeze(); // fine-tune only fc2
/// assert_eq!(model.num_trainable_parameters(), 4 + 1);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
pub trait Module<T: Scalar = f32>: std::fmt::Debug + Send + Sync {
    /// Shows this module's own parameters and its child modules to `visitor`, one call
    /// per field, in declaration order. The default shows nothing (a layer without
    /// parameters, such as an activation).
    fn visit(&self, visitor: &mut dyn Visitor<T>) {
        let _ = visitor;
    }

    /// Stores the training flag for this module itself (not its children): overridden
    /// by layers that behave differently in training, such as dropout. The default does
    /// nothing. Called by [`Module::set_training`].
    fn set_own_training(&self, training: bool) {
        let _ = training;
    }

    /// Parameters with their structural names, each parameter once (tied parameters
    /// under the first name visited), in visiting order: PyTorch's
    /// `named_parameters()` and the keys of its `state_dict()`.
    fn named_parameters(&self) -> Vec<(String, Parameter<T>)> {
        let mut seen = std::collections::HashSet::new();
        named_parameters_with_aliases(self)
            .into_iter()
            .filter(|(_, p)| seen.insert(p.id()))
            .collect()
    }

    /// Parameters in the order of [`Module::named_parameters`] (hand them to an
    /// optimizer).
    fn parameters(&self) -> Vec<Parameter<T>> {
        self.named_parameters()
            .into_iter()
            .map(|(_, p)| p)
            .collect()
    }

    /// The parameters that are not frozen (PyTorch's
    /// `filter(lambda p: p.requires_grad, model.parameters())`).
    fn trainable_parameters(&self) -> Vec<Parameter<T>> {
        self.parameters()
            .into_iter()
            .filter(Parameter::is_trainable)
            .collect()
    }

    /// Total number of scalars in the parameters (tied ones counted once).
    fn num_parameters(&self) -> usize {
        self.parameters().iter().map(Parameter::numel).sum()
    }

    /// Number of scalars in trainable (not frozen) parameters.
    fn num_trainable_parameters(&self) -> usize {
        self.trainable_parameters()
            .iter()
            .map(Parameter::numel)
            .sum()
    }

    /// Freezes every parameter of this module and its children: they take part in
    /// forward but record no gradient work, and optimizers leave them unchanged.
    fn freeze(&self) {
        for p in self.parameters() {
            p.freeze();
        }
    }

    /// Makes every parameter of this module and its children trainable again.
    fn unfreeze(&self) {
        for p in self.parameters() {
            p.unfreeze();
        }
    }

    /// Switches training mode on or off for this module and every child (PyTorch's
    /// `train(mode)`). Takes `&self`: the flag lives in the layers that use it.
    fn set_training(&self, training: bool) {
        self.set_own_training(training);
        struct Children(bool);
        impl<T: Scalar> Visitor<T> for Children {
            fn param(&mut self, _: &str, _: &Parameter<T>) {}
            fn module(&mut self, _: &str, module: &dyn Module<T>) {
                module.set_training(self.0);
            }
        }
        self.visit(&mut Children(training));
    }

    /// An independent copy of this module (PyTorch's `copy.deepcopy(module)`): every
    /// parameter copied under a fresh id, with its value and trainable flag; ties inside
    /// the module stay ties in the copy. Plain `.clone()` of a layer instead **shares**
    /// its parameters (a [`Parameter`] is a shared handle), so the clone is tied to the
    /// original. Only for modules that are [`Clone`]; see [`ferrograd_tensor::deep_clone()`].
    ///
    /// ```
    /// use ferrograd_nn::{DecoderBlock, Module};
    /// use ferrograd_tensor::{Rng, Tensor};
    /// let block = DecoderBlock::<f32>::new(8, 2, &mut Rng::new(0))?;
    /// // Six independent blocks (`vec![block; 6]` would be six views of one block).
    /// let blocks: Vec<DecoderBlock> = (0..6).map(|_| block.deep_clone()).collect();
    /// blocks[0].mlp.b_1.set(&Tensor::ones(&[32]))?;
    /// assert_eq!(blocks[1].mlp.b_1.tensor().to_vec(), vec![0.0; 32]);
    /// assert_eq!(block.mlp.b_1.tensor().to_vec(), vec![0.0; 32]);
    /// # Ok::<(), ferrograd_nn::NnError>(())
    /// ```
    fn deep_clone(&self) -> Self
    where
        Self: Clone + Sized,
    {
        ferrograd_tensor::deep_clone(self)
    }

    /// Training mode on (PyTorch's `model.train()`).
    fn train(&self) {
        self.set_training(true);
    }

    /// Training mode off (PyTorch's `model.eval()`): dropout becomes the identity.
    fn eval(&self) {
        self.set_training(false);
    }
}

/// Every (name, parameter) pair the structure shows, tied parameters under each of their
/// names: what a checkpoint written by PyTorch's `state_dict()` may hold (it keeps both
/// names of a tied weight).
///
/// ```
/// use ferrograd_nn::{named_parameters_with_aliases, Embedding, Linear, Module, Visitor};
/// use ferrograd_tensor::Rng;
///
/// #[derive(Debug)]
/// struct Tied { wte: Embedding, lm_head: Linear }
/// impl Module for Tied {
///     fn visit(&self, v: &mut dyn Visitor) {
///         v.module("wte", &self.wte);
///         v.module("lm_head", &self.lm_head);
///     }
/// }
/// let mut rng = Rng::new(0);
/// let wte = Embedding::new(10, 4, None, &mut rng);
/// let mut lm_head = Linear::with_bias(4, 10, false, &mut rng);
/// lm_head.weight = wte.weight.clone(); // one parameter, two places
/// let model = Tied { wte, lm_head };
/// assert_eq!(model.named_parameters().len(), 1);              // named once
/// assert_eq!(named_parameters_with_aliases(&model).len(), 2); // both names
/// assert_eq!(model.num_parameters(), 40);
/// ```
pub fn named_parameters_with_aliases<T: Scalar, M: Module<T> + ?Sized>(
    module: &M,
) -> Vec<(String, Parameter<T>)> {
    struct Collect<T: Scalar> {
        prefix: String,
        found: Vec<(String, Parameter<T>)>,
    }
    impl<T: Scalar> Visitor<T> for Collect<T> {
        fn param(&mut self, name: &str, param: &Parameter<T>) {
            self.found
                .push((format!("{}{name}", self.prefix), param.clone()));
        }
        fn module(&mut self, name: &str, module: &dyn Module<T>) {
            let outer = self.prefix.len();
            self.prefix.push_str(name);
            self.prefix.push('.');
            module.visit(self);
            self.prefix.truncate(outer);
        }
    }
    let mut collect = Collect {
        prefix: String::new(),
        found: Vec::new(),
    };
    module.visit(&mut collect);
    collect.found
}

/// Visits every module of the tree under `module` (itself first, named `""`), depth
/// first in visiting order, with its dotted path: PyTorch's `named_modules()`.
///
/// ```
/// use ferrograd_nn::{visit_modules, Linear, Relu, Sequential};
/// use ferrograd_tensor::Rng;
/// let model = Sequential::new().push(Linear::<f32>::new(2, 3, &mut Rng::new(0))).push(Relu);
/// let mut paths = Vec::new();
/// visit_modules(&model, &mut |path, _| paths.push(path.to_string()));
/// assert_eq!(paths, ["", "0", "1"]);
/// ```
pub fn visit_modules<T: Scalar>(module: &dyn Module<T>, f: &mut dyn FnMut(&str, &dyn Module<T>)) {
    struct Walk<'f, T: Scalar> {
        prefix: String,
        f: &'f mut dyn FnMut(&str, &dyn Module<T>),
    }
    impl<T: Scalar> Visitor<T> for Walk<'_, T> {
        fn param(&mut self, _: &str, _: &Parameter<T>) {}
        fn module(&mut self, name: &str, module: &dyn Module<T>) {
            let outer = self.prefix.len();
            if outer > 0 {
                self.prefix.push('.');
            }
            self.prefix.push_str(name);
            (self.f)(&self.prefix, module);
            module.visit(self);
            self.prefix.truncate(outer);
        }
    }
    f("", module);
    module.visit(&mut Walk {
        prefix: String::new(),
        f,
    });
}

/// A module's computation, PyTorch's `forward`: `Input` may be a tensor (`&Tensor`),
/// token ids (`&IdTensor`), or a tuple of several things (ids and a KV cache), and the
/// output whatever the module produces.
///
/// ```
/// use ferrograd_nn::{Embedding, Forward, Linear};
/// use ferrograd_tensor::{IdTensor, Rng, Tensor};
/// let mut rng = Rng::new(0);
/// let embed = Embedding::<f32>::new(100, 8, None, &mut rng);
/// let head = Linear::new(8, 100, &mut rng);
/// let vectors = embed.forward(&IdTensor::from([[3, 14, 15]]))?; // ids in
/// let logits = head.forward(&vectors)?;                         // a tensor in
/// assert_eq!(logits.shape(), &[1, 3, 100]);
/// # Ok::<(), ferrograd_nn::NnError>(())
/// ```
pub trait Forward<Input> {
    /// What the module returns.
    type Output;

    /// Runs the module on `input`.
    ///
    /// # Errors
    /// When the input does not fit the module (shapes, ids out of range, a full cache).
    fn forward(&self, input: Input) -> Result<Self::Output>;
}

/// A module that maps a tensor to a tensor: what [`crate::Sequential`] chains. Every
/// type that is a [`Module`] and a `Forward<&Tensor<T>, Output = Tensor<T>>` is one.
pub trait Layer<T: Scalar = f32>:
    Module<T> + for<'a> Forward<&'a Tensor<T>, Output = Tensor<T>>
{
}

impl<T: Scalar, M> Layer<T> for M where
    M: Module<T> + for<'a> Forward<&'a Tensor<T>, Output = Tensor<T>> + ?Sized
{
}
