import torch

from pdiff.similarity import max_similarity, nearest_distance, wrong_prediction_iou


def test_iou_of_wrong_predictions_on_a_hand_made_case():
    labels = torch.tensor([0, 1, 2, 3, 4])
    a = torch.tensor([[9, 1, 9, 3, 4]])  # wrong on {0, 2}
    b = torch.tensor(
        [
            [9, 9, 2, 3, 4],  # wrong on {0, 1}: 1 shared of 3 -> 1/3
            [9, 1, 9, 3, 4],  # same mistakes -> 1
            [0, 1, 2, 9, 9],
        ]
    )  # wrong on {3, 4}: disjoint -> 0
    sim = wrong_prediction_iou(a, b, labels)
    assert torch.allclose(sim, torch.tensor([[1 / 3, 1.0, 0.0]]))


def test_two_perfect_models_count_as_identical():
    labels = torch.tensor([0, 1])
    assert wrong_prediction_iou(labels[None], labels[None], labels).item() == 1.0


def test_max_similarity_can_skip_self():
    sim = torch.tensor([[1.0, 0.5, 0.2], [0.5, 1.0, 0.7], [0.2, 0.7, 1.0]])
    assert max_similarity(sim).tolist() == [1.0, 1.0, 1.0]
    assert torch.allclose(max_similarity(sim, exclude_self=True), torch.tensor([0.5, 0.7, 0.7]))


def test_nearest_distance_on_a_hand_made_case():
    src = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    gen = torch.tensor([[3.0, 0.0], [3.0, 5.0]])
    dist, idx = nearest_distance(gen, src)
    assert torch.allclose(dist, torch.tensor([3.0, 1.0])) and idx.tolist() == [0, 1]
    self_dist, self_idx = nearest_distance(src, src, exclude_self=True)
    assert torch.allclose(self_dist, torch.tensor([5.0, 5.0])) and self_idx.tolist() == [1, 0]
