"""Writes torch_sequential.safetensors, a checkpoint written by PyTorch 2.15's
`safetensors.torch.save_file` for `Sequential(Linear(3, 2), ReLU, Linear(2, 1))` with the
weights below; tests/checkpoint.rs loads it and checks every value."""
import torch
from safetensors.torch import save_file

model = torch.nn.Sequential(torch.nn.Linear(3, 2), torch.nn.ReLU(), torch.nn.Linear(2, 1))
with torch.no_grad():
    model[0].weight.copy_(torch.tensor([[0.5, -1.0, 0.25], [2.0, 0.0, -0.5]]))
    model[0].bias.copy_(torch.tensor([0.1, -0.2]))
    model[2].weight.copy_(torch.tensor([[1.5, -0.75]]))
    model[2].bias.copy_(torch.tensor([0.3]))
save_file(model.state_dict(), "torch_sequential.safetensors")
print(model(torch.tensor([[1.0, 2.0, 3.0]])).item())
