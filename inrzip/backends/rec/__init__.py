"""rec backend: RECOMBINER (Bayesian INR + relative entropy coding) for images."""
