import torch

from skprob._torch.weight_average import WeightAverage


def test_weight_average_is_the_debiased_exponential_mean_of_the_iterates():
    param = torch.nn.Parameter(torch.zeros(2, 3))
    average = WeightAverage([param], steps=4)
    iterates = [torch.full((2, 3), float(v)) for v in (1.0, 5.0, -2.0, 7.0, 3.0)]
    for iterate in iterates:
        with torch.no_grad():
            param.copy_(iterate)
        average.update()
    decay = 0.75
    weights = [decay ** (len(iterates) - 1 - t) for t in range(len(iterates))]
    expected = sum(w * it for w, it in zip(weights, iterates, strict=True)) / sum(weights)
    with average.swapped_in():
        torch.testing.assert_close(param.detach(), expected)
    torch.testing.assert_close(param.detach(), iterates[-1], rtol=0, atol=0)  # swapped back
