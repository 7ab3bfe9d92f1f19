/**
 * Adam (Kingma & Ba, 2015) over the LSTM's parameter arrays, with the gradient clipped to
 * a maximum global L2 norm first: recurrent nets occasionally produce one huge gradient
 * (an exploding product through time) that would otherwise throw the weights far away.
 */
import { PARAM_NAMES, zeroGradients } from './network';
import type { LstmGradients, LstmParams } from './network';

export interface AdamOptions {
  learningRate?: number;
  beta1?: number;
  beta2?: number;
  epsilon?: number;
  /** Largest global L2 norm of the gradient; larger gradients are scaled down to it. */
  clipNorm?: number;
  /** L2 penalty on weights (not biases), added to the gradient (classic, not decoupled). */
  weightDecay?: number;
}

export class Adam {
  private readonly m: LstmGradients;
  private readonly v: LstmGradients;
  private step = 0;
  private readonly learningRate: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly epsilon: number;
  private readonly clipNorm: number;
  private readonly weightDecay: number;

  constructor(
    params: LstmParams,
    { learningRate = 0.01, beta1 = 0.9, beta2 = 0.999, epsilon = 1e-8, clipNorm = 1, weightDecay = 0 }: AdamOptions = {},
  ) {
    this.m = zeroGradients(params);
    this.v = zeroGradients(params);
    this.learningRate = learningRate;
    this.beta1 = beta1;
    this.beta2 = beta2;
    this.epsilon = epsilon;
    this.clipNorm = clipNorm;
    this.weightDecay = weightDecay;
  }

  /** Updates `params` in place from `grads`; returns the gradient norm before clipping. */
  update(params: LstmParams, grads: LstmGradients): number {
    if (this.weightDecay > 0) {
      for (const name of ['W', 'R', 'headW'] as const) {
        const g = grads[name];
        const w = params[name];
        for (let n = 0; n < g.length; n++) g[n]! += this.weightDecay * w[n]!;
      }
    }
    let sq = 0;
    for (const name of PARAM_NAMES) for (const x of grads[name]) sq += x * x;
    const norm = Math.sqrt(sq);
    const scale = norm > this.clipNorm ? this.clipNorm / norm : 1;
    this.step += 1;
    const c1 = 1 - this.beta1 ** this.step;
    const c2 = 1 - this.beta2 ** this.step;
    for (const name of PARAM_NAMES) {
      const w = params[name];
      const g = grads[name];
      const m = this.m[name];
      const v = this.v[name];
      for (let n = 0; n < w.length; n++) {
        const gn = g[n]! * scale;
        m[n] = this.beta1 * m[n]! + (1 - this.beta1) * gn;
        v[n] = this.beta2 * v[n]! + (1 - this.beta2) * gn * gn;
        w[n]! -= (this.learningRate * (m[n]! / c1)) / (Math.sqrt(v[n]! / c2) + this.epsilon);
      }
    }
    return norm;
  }
}
