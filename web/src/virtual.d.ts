/** URLs of the self-hosted MediaPipe assets, emitted by tools/mirror-assets.ts. */
declare module 'virtual:mirror-assets' {
  /** the PoseLandmarker `.task` bundle built from @mediapipe/pose's models */
  export const poseTaskUrl: string;
  /** the folder holding tasks-vision's wasm runtime (simd and nosimd) */
  export const wasmBaseUrl: string;
}
