import { describe, expect, it } from '@jest/globals';
import { Tensor } from 'onnxruntime-node';
import { openServingSession } from '../session';
import { encodeModel, node, tensor, valueInfo } from '../builder';

describe('encodeModel', () => {
  it('writes a graph that onnxruntime loads and runs with a symbolic batch dimension', async () => {
    const bytes = encodeModel({
      graph: {
        name: 'affine',
        inputs: [valueInfo('x', 'float', ['batch', 2])],
        outputs: [valueInfo('y', 'float', ['batch', 1])],
        initializers: [tensor('w', 'float', [2, 1], [2, -1]), tensor('b', 'float', [1], [0.5])],
        nodes: [node('MatMul', ['x', 'w'], ['xw']), node('Add', ['xw', 'b'], ['y'])],
      },
    });
    const session = await openServingSession(bytes);
    expect(session.inputNames).toEqual(['x']);
    const out = await session.run({ x: new Tensor('float32', Float32Array.from([1, 2, 3, 1]), [2, 2]) });
    expect(Array.from(out.y!.data as Float32Array)).toEqual([0.5, 5.5]);
  });

  it('refuses a tensor whose values do not fill its dims', () => {
    expect(() => tensor('w', 'float', [2, 2], [1, 2, 3])).toThrow('tensor w: dims [2, 2] need 4 values, got 3');
  });
});
