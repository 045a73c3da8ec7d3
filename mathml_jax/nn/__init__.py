"""A small neural network, where the earlier pieces meet: layers sigma(A x + b) (linear maps and
a nonlinearity), the chain rule (backpropagation), the Hessian of the loss (its spectrum, by
matrix-free Lanczos), and stochastic optimisation (minibatch SGD, Adam)."""
