/**
 * A single-layer LSTM with a linear head, trained by hand: forward pass, backpropagation
 * through time and the weighted squared loss it is trained on.
 *
 * Contract: a sequence is `steps` rows of `inputSize` numbers; the network reads it in
 * order and emits `outputSize` numbers after every step (the head applied to that step's
 * hidden state). Targets are given per step and output; NaN marks "no target here", so a
 * step contributes to the loss only where its target is known.
 *
 * Parameters are laid out exactly as ONNX's LSTM op wants them, so export is a copy:
 * gates stacked in the order i, o, f, c (input, output, forget, cell) in `W` [4H x I],
 * `R` [4H x H] and `b` [4H] (ONNX's Wb; its Rb is exported as zeros). The head is
 * `headW` [H x K] (row-major, ready for MatMul) and `headB` [K].
 */
import { Random } from '../../util/random';

export interface LstmShape {
  inputSize: number;
  hiddenSize: number;
  outputSize: number;
}

export interface LstmParams extends LstmShape {
  W: Float64Array;
  R: Float64Array;
  b: Float64Array;
  headW: Float64Array;
  headB: Float64Array;
}

/** One training sequence: inputs [steps x inputSize], targets [steps x outputSize] (NaN = none). */
export interface LstmSequence {
  inputs: Float64Array;
  targets: Float64Array;
  steps: number;
  /** Multiplies this sequence's squared errors in the loss. */
  weight: number;
}

/** Gate offsets inside the 4H stack, in ONNX's order. */
const GATE_I = 0;
const GATE_O = 1;
const GATE_F = 2;
const GATE_C = 3;

/** Names of the parameter arrays, in the order gradients and optimiser state use. */
export const PARAM_NAMES = ['W', 'R', 'b', 'headW', 'headB'] as const;
export type ParamName = (typeof PARAM_NAMES)[number];
export type LstmGradients = Record<ParamName, Float64Array>;

/**
 * Glorot-uniform weights, zero biases except the forget gate's, which starts at 1 so the
 * cell keeps its memory early in training (Jozefowicz et al., 2015).
 */
export function initLstm(shape: LstmShape, random: Random): LstmParams {
  const { inputSize: I, hiddenSize: H, outputSize: K } = shape;
  const uniform = (n: number, fanIn: number, fanOut: number): Float64Array => {
    const limit = Math.sqrt(6 / (fanIn + fanOut));
    return Float64Array.from({ length: n }, () => (random.next() * 2 - 1) * limit);
  };
  const b = new Float64Array(4 * H);
  b.fill(1, GATE_F * H, (GATE_F + 1) * H);
  return {
    ...shape,
    W: uniform(4 * H * I, I, H),
    R: uniform(4 * H * H, H, H),
    b,
    headW: uniform(H * K, H, K),
    headB: new Float64Array(K),
  };
}

export function zeroGradients(p: LstmShape): LstmGradients {
  const { inputSize: I, hiddenSize: H, outputSize: K } = p;
  return {
    W: new Float64Array(4 * H * I),
    R: new Float64Array(4 * H * H),
    b: new Float64Array(4 * H),
    headW: new Float64Array(H * K),
    headB: new Float64Array(K),
  };
}

export function cloneParams(p: LstmParams): LstmParams {
  return { ...p, W: p.W.slice(), R: p.R.slice(), b: p.b.slice(), headW: p.headW.slice(), headB: p.headB.slice() };
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Everything the backward pass needs from one forward pass over a sequence. */
interface ForwardTrace {
  /** Post-activation gates per step, [steps x 4H] in i, o, f, c order. */
  gates: Float64Array;
  /** Cell and hidden states per step, [(steps + 1) x H]; row 0 is the zero initial state. */
  cells: Float64Array;
  hiddens: Float64Array;
  /** Head outputs per step, [steps x K]. */
  outputs: Float64Array;
}

function forwardTrace(p: LstmParams, inputs: Float64Array, steps: number): ForwardTrace {
  const { inputSize: I, hiddenSize: H, outputSize: K, W, R, b, headW, headB } = p;
  const gates = new Float64Array(steps * 4 * H);
  const cells = new Float64Array((steps + 1) * H);
  const hiddens = new Float64Array((steps + 1) * H);
  const outputs = new Float64Array(steps * K);
  for (let t = 0; t < steps; t++) {
    const x = t * I;
    const hPrev = t * H;
    const g = t * 4 * H;
    for (let r = 0; r < 4 * H; r++) {
      let a = b[r]!;
      const wRow = r * I;
      for (let j = 0; j < I; j++) a += W[wRow + j]! * inputs[x + j]!;
      const rRow = r * H;
      for (let j = 0; j < H; j++) a += R[rRow + j]! * hiddens[hPrev + j]!;
      gates[g + r] = r >= GATE_C * H ? Math.tanh(a) : sigmoid(a);
    }
    const next = (t + 1) * H;
    for (let j = 0; j < H; j++) {
      const c = gates[g + GATE_F * H + j]! * cells[hPrev + j]! + gates[g + GATE_I * H + j]! * gates[g + GATE_C * H + j]!;
      cells[next + j] = c;
      hiddens[next + j] = gates[g + GATE_O * H + j]! * Math.tanh(c);
    }
    for (let k = 0; k < K; k++) {
      let y = headB[k]!;
      for (let j = 0; j < H; j++) y += hiddens[next + j]! * headW[j * K + k]!;
      outputs[t * K + k] = y;
    }
  }
  return { gates, cells, hiddens, outputs };
}

/** Head outputs after every step, [steps x outputSize]. */
export function lstmForward(p: LstmParams, inputs: Float64Array, steps: number): Float64Array {
  return forwardTrace(p, inputs, steps).outputs;
}

/** Head output after the last step only: what the exported ONNX graph computes. */
export function lstmPredictLast(p: LstmParams, inputs: Float64Array, steps: number): Float64Array {
  const out = lstmForward(p, inputs, steps);
  return out.slice((steps - 1) * p.outputSize, steps * p.outputSize);
}

/**
 * Weighted mean squared error over the targets that are present, and (when `grads` is
 * given) its gradient added into `grads`. The mean divides by the total weight of present
 * targets across all sequences, so the loss does not depend on how many sequences there are.
 */
export function lstmLossAndGradients(p: LstmParams, sequences: LstmSequence[], grads?: LstmGradients): number {
  let totalWeight = 0;
  for (const s of sequences) {
    for (let n = 0; n < s.steps * p.outputSize; n++) if (!Number.isNaN(s.targets[n]!)) totalWeight += s.weight;
  }
  if (totalWeight === 0) return 0;
  let loss = 0;
  for (const s of sequences) {
    const trace = forwardTrace(p, s.inputs, s.steps);
    const dOut = new Float64Array(s.steps * p.outputSize);
    for (let n = 0; n < dOut.length; n++) {
      const target = s.targets[n]!;
      if (Number.isNaN(target)) continue;
      const err = trace.outputs[n]! - target;
      loss += (s.weight * err * err) / totalWeight;
      dOut[n] = (2 * s.weight * err) / totalWeight;
    }
    if (grads) backward(p, s, trace, dOut, grads);
  }
  return loss;
}

/** Backpropagation through time for one sequence, given dLoss/dOutput per step. */
function backward(p: LstmParams, s: LstmSequence, trace: ForwardTrace, dOut: Float64Array, grads: LstmGradients): void {
  const { inputSize: I, hiddenSize: H, outputSize: K, R, headW } = p;
  const { gates, cells, hiddens } = trace;
  const dhNext = new Float64Array(H);
  const dcNext = new Float64Array(H);
  const dh = new Float64Array(H);
  const dPre = new Float64Array(4 * H);
  for (let t = s.steps - 1; t >= 0; t--) {
    const cur = (t + 1) * H;
    const prev = t * H;
    const g = t * 4 * H;
    for (let j = 0; j < H; j++) {
      let v = dhNext[j]!;
      for (let k = 0; k < K; k++) {
        const d = dOut[t * K + k]!;
        v += headW[j * K + k]! * d;
        grads.headW[j * K + k]! += hiddens[cur + j]! * d;
      }
      dh[j] = v;
    }
    for (let k = 0; k < K; k++) grads.headB[k]! += dOut[t * K + k]!;
    for (let j = 0; j < H; j++) {
      const gi = gates[g + GATE_I * H + j]!;
      const go = gates[g + GATE_O * H + j]!;
      const gf = gates[g + GATE_F * H + j]!;
      const gc = gates[g + GATE_C * H + j]!;
      const tanhC = Math.tanh(cells[cur + j]!);
      const dc = dh[j]! * go * (1 - tanhC * tanhC) + dcNext[j]!;
      dPre[GATE_O * H + j] = dh[j]! * tanhC * go * (1 - go);
      dPre[GATE_I * H + j] = dc * gc * gi * (1 - gi);
      dPre[GATE_F * H + j] = dc * cells[prev + j]! * gf * (1 - gf);
      dPre[GATE_C * H + j] = dc * gi * (1 - gc * gc);
      dcNext[j] = dc * gf;
    }
    dhNext.fill(0);
    for (let r = 0; r < 4 * H; r++) {
      const d = dPre[r]!;
      if (d === 0) continue;
      grads.b[r]! += d;
      const wRow = r * I;
      const x = t * I;
      for (let j = 0; j < I; j++) grads.W[wRow + j]! += d * s.inputs[x + j]!;
      const rRow = r * H;
      for (let j = 0; j < H; j++) {
        grads.R[rRow + j]! += d * hiddens[prev + j]!;
        dhNext[j]! += R[rRow + j]! * d;
      }
    }
  }
}
