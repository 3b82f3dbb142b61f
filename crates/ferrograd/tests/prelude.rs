//! The facade's prelude is enough for the book's training loop: data from
//! `ferrograd::data`, a `DataLoader`, a `Sequential` model, a loss and an optimizer, with
//! no other import. The run is the book's §1.8 logistic regression, so its final loss is
//! PyTorch's (`tests/data/chapter1_pytorch.json`).

use ferrograd::prelude::*;

#[test]
fn the_books_logistic_regression_through_a_data_loader() -> Result<(), Box<dyn std::error::Error>> {
    let data = ferrograd::data::book::buy_no_buy::<f32>();
    assert_eq!(data.len(), 12);
    let loader = DataLoader::new(&data, 12)?; // one full batch per epoch, in order
    // nn.Sequential(nn.Linear(2, 1), nn.Sigmoid()) from PyTorch's initial weights.
    let linear = Linear::from_tensors(Tensor::from([[0.1, -0.2]]), Some(Tensor::from([0.05])))?;
    let model = Sequential::new().push(linear).push(Sigmoid);
    let criterion = BceLoss::default();
    let mut optimizer = Sgd::new(model.parameters(), SgdConfig::new(0.001))?;
    let mut first = None;
    for epoch in 0..500 {
        for batch in loader.epoch(epoch) {
            let batch = batch?;
            let loss = criterion.forward(&model.forward(&batch.inputs)?, &batch.targets)?;
            first.get_or_insert(loss.item()?);
            optimizer.step(&loss.backward()?)?;
        }
    }
    let p = no_grad(|| model.forward(data.inputs()))?;
    let last = criterion.forward(&p, data.targets())?.item()?;
    // PyTorch's first and final losses; 1e-5 relative as argued in replay_chapter1.rs.
    let rel = |a: f32, b: f64| (f64::from(a) - b).abs() / b;
    assert!(rel(first.unwrap(), 7.543480396270752) < 1e-5);
    assert!(rel(last, 0.2712114155292511) < 1e-5, "final loss {last}");
    Ok(())
}

#[test]
fn adam_from_the_prelude_fits_a_line() -> Result<(), Box<dyn std::error::Error>> {
    // y = 2x − 1 exactly; Adam (lr 0.1) from zero gets within 1e-3 in 500 steps
    // (Adam's steps shrink as the gradient's sign flips around the minimum).
    let x = Tensor::<f32>::from([[0.0], [1.0], [2.0], [3.0]]);
    let y = Tensor::<f32>::from([[-1.0], [1.0], [3.0], [5.0]]);
    let w = Parameter::new(Tensor::from([[0.0f32]]));
    let b = Parameter::new(Tensor::from([0.0f32]));
    let mut adam = Adam::new([w.clone(), b.clone()], AdamConfig::new(0.1))?;
    for _ in 0..500 {
        let loss = x
            .matmul(&w.tensor())?
            .add(&b.tensor())?
            .sub(&y)?
            .square()
            .mean_all();
        adam.step(&loss.backward()?)?;
    }
    assert!(
        (w.tensor().item()? - 2.0).abs() < 1e-3,
        "{:?}",
        w.tensor().item()
    );
    assert!(
        (b.tensor().item()? + 1.0).abs() < 1e-3,
        "{:?}",
        b.tensor().item()
    );
    Ok(())
}
