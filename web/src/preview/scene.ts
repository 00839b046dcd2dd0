/**
 * The live preview's three.js scene: the camera image as a textured plane and the garment as
 * the shared mesh (mesh.ts) on top, in frame pixels (x right, y down). The orthographic camera
 * runs from x = width to x = 0, so both are mirrored together, like a real mirror, while the
 * landmarks and the snap stay in the camera's own (unmirrored) coordinates, as the worker wants.
 * Every three.js object is made here and disposed by `dispose()`.
 */
import {
  CanvasTexture,
  DoubleSide,
  LinearFilter,
  Mesh,
  MeshBasicMaterial,
  OrthographicCamera,
  PlaneGeometry,
  Scene,
  SRGBColorSpace,
  VideoTexture,
  WebGLRenderer,
} from 'three';
import type { Box } from './alpha-box.ts';
import { garmentQuad, type Landmark, MESH_SEGMENTS, meshPositions } from './mesh.ts';

export interface MirrorScene {
  /** what the mirror shows: the live camera, or a still photo (no camera) */
  setSource(source: HTMLVideoElement | HTMLCanvasElement): void;
  /** the camera frame's size in pixels (the video's intrinsic size) */
  setFrameSize(width: number, height: number): void;
  /** the garment, already cropped to its source rectangle */
  setGarment(image: HTMLCanvasElement | null): void;
  /** moves the mesh onto the pose, or hides it (undefined: no torso) */
  setPose(landmarks: readonly Landmark[] | undefined): void;
  setGarmentHidden(hidden: boolean): void;
  readonly garmentShown: boolean;
  render(): void;
  resize(cssWidth: number, cssHeight: number): void;
  dispose(): void;
}

/** The garment PNG cropped to its source rectangle, on a canvas three.js can upload. */
export function cropGarment(image: CanvasImageSource, box: Box): HTMLCanvasElement {
  const canvas = document.createElement('canvas');
  canvas.width = box.width;
  canvas.height = box.height;
  canvas.getContext('2d')?.drawImage(image, box.x, box.y, box.width, box.height, 0, 0, box.width, box.height);
  return canvas;
}

export function createMirrorScene(canvas: HTMLCanvasElement): MirrorScene {
  const renderer = new WebGLRenderer({ canvas, antialias: false, alpha: false, powerPreference: 'low-power' });
  renderer.setPixelRatio(Math.min(window.devicePixelRatio || 1, 2));
  const scene = new Scene();
  const camera = new OrthographicCamera(1, 0, 0, 1, -1, 1);

  let sourceTexture: VideoTexture | CanvasTexture | undefined;
  const backgroundGeometry = new PlaneGeometry(1, 1);
  const backgroundMaterial = new MeshBasicMaterial({ side: DoubleSide, depthTest: false });
  const background = new Mesh(backgroundGeometry, backgroundMaterial);
  background.frustumCulled = false;
  background.visible = false;
  scene.add(background);

  const garmentGeometry = new PlaneGeometry(1, 1, MESH_SEGMENTS, MESH_SEGMENTS);
  const positions = garmentGeometry.getAttribute('position');
  const garmentMaterial = new MeshBasicMaterial({ transparent: true, side: DoubleSide, depthTest: false, premultipliedAlpha: true });
  const garment = new Mesh(garmentGeometry, garmentMaterial);
  garment.frustumCulled = false;
  garment.renderOrder = 1;
  garment.visible = false;
  scene.add(garment);

  let frame = { width: 1, height: 1 };
  let garmentTexture: CanvasTexture | undefined;
  let hidden = false;
  let posed = false;
  const sync = () => {
    garment.visible = posed && !hidden && garmentTexture !== undefined;
  };

  return {
    setSource(source) {
      sourceTexture?.dispose();
      sourceTexture = source instanceof HTMLVideoElement ? new VideoTexture(source) : new CanvasTexture(source);
      sourceTexture.colorSpace = SRGBColorSpace;
      sourceTexture.generateMipmaps = false;
      sourceTexture.minFilter = LinearFilter;
      backgroundMaterial.map = sourceTexture;
      backgroundMaterial.needsUpdate = true;
      background.visible = true;
    },
    setFrameSize(width, height) {
      if (width === frame.width && height === frame.height) return;
      frame = { width, height };
      // mirrored: x runs from the right edge to the left; y down
      camera.left = width;
      camera.right = 0;
      camera.top = 0;
      camera.bottom = height;
      camera.updateProjectionMatrix();
      // PlaneGeometry's y runs up: flip it so the image's top row is at y = 0
      background.scale.set(width, -height, 1);
      background.position.set(width / 2, height / 2, 0);
    },
    setGarment(image) {
      garmentTexture?.dispose();
      garmentTexture = undefined;
      if (image) {
        garmentTexture = new CanvasTexture(image);
        garmentTexture.colorSpace = SRGBColorSpace;
        garmentTexture.premultiplyAlpha = true;
        garmentTexture.minFilter = LinearFilter;
        garmentTexture.generateMipmaps = false;
      }
      garmentMaterial.map = garmentTexture ?? null;
      garmentMaterial.needsUpdate = true;
      sync();
    },
    setPose(landmarks) {
      posed = landmarks !== undefined;
      if (landmarks) {
        meshPositions(garmentQuad(landmarks, frame.width, frame.height), MESH_SEGMENTS, positions.array as Float32Array);
        positions.needsUpdate = true;
      }
      sync();
    },
    setGarmentHidden(value) {
      hidden = value;
      sync();
    },
    get garmentShown() {
      return garment.visible;
    },
    render() {
      renderer.render(scene, camera);
    },
    resize(cssWidth, cssHeight) {
      renderer.setSize(cssWidth, cssHeight, false);
    },
    dispose() {
      garmentTexture?.dispose();
      sourceTexture?.dispose();
      backgroundGeometry.dispose();
      backgroundMaterial.dispose();
      garmentGeometry.dispose();
      garmentMaterial.dispose();
      renderer.dispose();
    },
  };
}
