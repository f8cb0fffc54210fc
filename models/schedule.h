#pragma once
// How many optimiser steps a training run takes, and what changes from step to step: the learning
// rate and the lookahead EMA's decay. LibTorch-free (compiled into dq_core), so the plan can be
// checked without training and the schedules against hand-computed values.
#include <cstdint>

namespace dq {

struct TrainRecipe;

// Batches that train in one epoch over `n` samples in batches of `batch`: ceil(n / batch), less a
// last batch of one image (BatchNorm cannot train on it; a set of one image trains anyway). With
// `drop_last`, floor(n / batch), or the one partial batch when n < batch.
int64_t batches_per_epoch(int64_t n, int64_t batch, bool drop_last);

// The step budget of one training run over `n` samples (models.h TrainRecipe, `budget`):
//   equal epochs: total = ceil(batches_per_epoch(n) x (epochs + partial_epoch));
//   equal steps:  total = ceil(batches_per_epoch(full_train_samples) x (epochs + partial_epoch)),
//                 the full-data recipe's count, whatever n is;
// at least ceil(min_steps / ceil(n / batch)) whole epochs when min_steps is set (small coresets).
struct StepPlan {
  int64_t batches_per_epoch = 0;  // over these n samples
  // Steps of one budget epoch: this set's batches (equal epochs) or the full set's (equal steps).
  // Events given in epochs (the whitening bias's freeze, the EMA's start) happen at multiples of it.
  int64_t epoch_steps = 0;
  int64_t total_steps = 0;
  int64_t epochs = 0;             // passes over the n samples; the last may stop part-way
};
StepPlan plan_steps(const TrainRecipe& recipe, int64_t n);

// Schedule::PiecewiseLinear's multiplier of the base learning rate for the update after `step` steps
// (0-based) of `total`: linear from `start` at step 0 to 1 at floor(peak_at x total), then linear to
// `end` at step `total` (airbench94: 0.2, 0.23, 0.07).
double piecewise_linear_factor(int64_t step, int64_t total, double start, double peak_at, double end);

// The learning rate of a parameter group with base rate `base_lr` for the update after `step` steps,
// in epoch `epoch` (0-based) of the plan: cosine over the epochs (base_lr x 0.5 (1 + cos(pi epoch /
// epochs))), constant, or piecewise linear over the steps.
double scheduled_lr(double base_lr, const TrainRecipe& recipe, const StepPlan& plan, int64_t epoch, int64_t step);

// The lookahead EMA's decay when it is applied after `step` of `total` steps:
// decay^every x (step / total)^power (airbench94: 0.95^5 x (step / total)^3).
double lookahead_decay_at(int64_t step, int64_t total, double decay, int64_t every, double power);

}  // namespace dq
