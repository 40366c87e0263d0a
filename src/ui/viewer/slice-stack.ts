/**
 * The images of one series in display order: every frame of every instance,
 * so one scroll step moves to the next frame of a multi-frame instance or to
 * the next single-frame instance (the next CT slice).
 */

/** Zero-based position in a stack: the instance and the frame within it. */
export interface SlicePosition {
  instance: number;
  frame: number;
}

export interface StackInstance {
  path: string;
  /** Number of Frames (0028,0008), or 1 until the instance's header has been read. */
  frames: number;
}

export class SliceStack {
  private readonly instances: StackInstance[];

  constructor(instances: readonly StackInstance[]) {
    this.instances = instances.map((instance) => ({ path: instance.path, frames: Math.max(1, Math.trunc(instance.frames)) }));
  }

  get instanceCount(): number {
    return this.instances.length;
  }

  /** Number of images: the sum of the frame counts. */
  get total(): number {
    let total = 0;
    for (const instance of this.instances) total += instance.frames;
    return total;
  }

  instance(index: number): StackInstance {
    return this.instances[index];
  }

  /** Stores the frame count read from an instance's header, raising counts below 1 to 1. */
  setFrameCount(instanceIndex: number, frames: number): void {
    this.instances[instanceIndex].frames = Math.max(1, Math.trunc(frames));
  }

  /** Returns the zero-based index of a position among all images of the stack. */
  indexOf(position: SlicePosition): number {
    let index = 0;
    for (let instance = 0; instance < position.instance; instance++) index += this.instances[instance].frames;
    return index + position.frame;
  }

  /** Returns the position of the image at a zero-based index, clamped to the first and last image. */
  positionAt(index: number): SlicePosition {
    const last = this.total - 1;
    let remaining = Math.min(Math.max(0, Math.trunc(index)), Math.max(0, last));
    for (let instance = 0; instance < this.instances.length; instance++) {
      const frames = this.instances[instance].frames;
      if (remaining < frames) return { instance, frame: remaining };
      remaining -= frames;
    }
    return { instance: 0, frame: 0 };
  }

  /** Moves `delta` images forward (or back when negative), stopping at the first and last image. */
  step(position: SlicePosition, delta: number): SlicePosition {
    return this.positionAt(this.indexOf(this.clamp(position)) + delta);
  }

  /** Returns the position itself, or the nearest valid one when a frame count has shrunk. */
  clamp(position: SlicePosition): SlicePosition {
    if (this.instances.length === 0) return { instance: 0, frame: 0 };
    const instance = Math.min(Math.max(0, position.instance), this.instances.length - 1);
    const frame = Math.min(Math.max(0, position.frame), this.instances[instance].frames - 1);
    return { instance, frame };
  }
}
