"""Rate and ETA smoothing, without a database."""

from progress.runtime.estimator import RateEstimator


def feed(estimator, samples):
    for now, items, fraction in samples:
        estimator.observe(now, items, fraction)


def test_steady_run_converges_to_its_true_rate():
    est = RateEstimator(tau=5)
    feed(est, [(t * 0.25, t * 25, t / 400) for t in range(200)])
    assert abs(est.rate - 100) < 0.01
    assert abs(est.seconds_remaining(199 / 400) - 50.25) < 0.1


def test_a_momentary_burst_moves_the_eta_far_less_than_a_per_sample_ema():
    est = RateEstimator(tau=10)
    feed(est, [(float(t), t * 10, t * 10 / 1000) for t in range(60)])  # 10 items/s of 1000
    before = est.seconds_remaining(0.59)
    est.observe(59.25, 600, 0.60)  # ten items in a quarter second: 4x speed for one sample
    after = est.seconds_remaining(0.60)
    tqdm_style_rate = 0.3 * 40 + 0.7 * 10  # tqdm's default smoothing=0.3, per sample
    tqdm_style_after = (1000 - 600) / tqdm_style_rate
    assert abs(after - before) / before < 0.1
    assert abs(tqdm_style_after - before) / before > 0.4


def test_slow_run_with_minutes_between_samples_still_estimates():
    est = RateEstimator(tau=10)
    feed(est, [(0.0, 0, 0.0), (120.0, 1, 0.1), (240.0, 2, 0.2)])
    assert abs(est.seconds_remaining(0.2) - 960) < 1


def test_no_eta_without_a_fraction():
    est = RateEstimator()
    feed(est, [(0.0, 0, None), (1.0, 10, None)])
    assert est.rate == 10
    assert est.seconds_remaining(None) is None


def test_rate_is_right_within_a_second_even_after_an_idle_start():
    est = RateEstimator(tau=10)
    est.observe(0.0, 0, 0.0)
    est.observe(0.5, 0, 0.0)  # reading the file: no items yet
    for step in range(1, 5):
        est.observe(0.5 + step * 0.25, step * 12.5, step * 0.0125)  # then 50 items/s
    # An EMA seeded with the idle sample would still say about 5/s here.
    assert 30 < est.rate <= 50
