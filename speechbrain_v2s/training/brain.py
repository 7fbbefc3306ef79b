"""The one training loop of speechbrain-v2s.

:class:`V2SBrain` trains every model of the project: A2A and V2A (they differ
only in the encoder, hence in what the batch provides), the waveform family
(GAN: generator and discriminator optimizers, least-squares adversarial loss,
feature matching, multi-resolution STFT and mel L1) and the mel family (masked
L1 (+L2) regression on log-mel). Everything else is SpeechBrain's: run options
(precision, gradient clipping, intra-epoch checkpoints, DDP under ``torchrun``),
``Checkpointer``, ``EpochCounter``, the saveable data loader that resumes
mid-epoch.

Modules (the recipe YAML's ``modules``): ``model`` (the
:class:`~speechbrain_v2s.training.strategies.TrainingModel` around a
:class:`V2SModel` or a :class:`~speechbrain_v2s.training.vocoder.VocoderModel`,
whose declared ``output_kind`` says whether it outputs waveform or mel) and,
for the GAN, ``discriminator``. Batches provide ``sig`` (24 kHz target audio)
and, for V2A, ``roi`` (``[B, T, 1, H, W]`` mouth frames); optionally ``speaker``.
"""

import logging
import math

import speechbrain as sb
import torch
import yaml

from speechbrain_v2s import metrics
from speechbrain_v2s.audio.features import compute_mel, mel_to_wave_griffinlim
from speechbrain_v2s.nnet.normalization import CrossModalBatchNorm
from speechbrain_v2s.training.strategies import decoder_parameter_names

logger = logging.getLogger(__name__)

VALID_METRICS = ("stoi", "estoi", "pesq")


def _split_real_fake(outputs, batch_size):
    """Split discriminator outputs computed on ``cat([real, fake])``."""
    if isinstance(outputs, torch.Tensor):
        return outputs[:batch_size], outputs[batch_size:]
    pairs = [_split_real_fake(o, batch_size) for o in outputs]
    return [p[0] for p in pairs], [p[1] for p in pairs]


@sb.utils.checkpoints.register_checkpoint_hooks
class V2SBrain(sb.Brain):
    """A GAN-capable Brain shared by A2A pre-training and V2A fine-tuning.

    Hyperparameters read, each from the recipe YAML (no defaults here; the
    YAMLs say what each value is for): ``decoder_lr_scale`` (the decoder's
    learning rate is ``lr`` times this), ``sch_class`` (per-epoch scheduler,
    or null), ``mel_loss_weight``, ``mel_l2_weight``, ``metric_utterances``
    (validation utterances scored with STOI/ESTOI/PESQ per epoch) and
    ``test_metric_utterances`` (null: the whole test set),
    ``bn_recalibration_batches`` (training batches over which the batch
    norms' running statistics are re-estimated, weights fixed, before each
    validation; 0: none; see :meth:`recalibrate_batch_norm`), ``seed`` (the
    recalibration's crops), ``train_logger``, ``checkpoints_to_keep``,
    ``epoch_counter``, ``pretrained_decoder_path`` (where the model's
    ``save_pretrained`` writes the best epoch, e.g. the A2A model V2A recipes
    start from; null: nowhere). GAN recipes
    (those with a ``discriminator``) also: ``generator_loss`` and
    ``discriminator_loss`` (SpeechBrain HiFi-GAN losses),
    ``opt_class_discriminator``, ``sch_class_discriminator`` (or null),
    ``gan_warmup_steps`` (steps trained on reconstruction losses only before
    the discriminator joins in). Mel-output models: ``vocoder`` (mel → wave
    for the metrics; null: Griffin-Lim). The joint strategy: ``a2a_weight``.

    Example
    -------
    >>> import torch
    >>> from speechbrain_v2s.training.brain import _split_real_fake
    >>> real, fake = _split_real_fake([torch.arange(4), [torch.arange(4)]], 2)
    >>> real[0].tolist(), fake[1][0].tolist()
    ([0, 1], [2, 3])
    """

    # ------------------------------------------------------------ helpers
    @property
    def raw_model(self):
        """The V2S model, without DDP or training wrappers."""
        return self._unwrapped("model").model

    def _unwrapped(self, name):
        """Module ``name`` without its DDP/DP wrapper."""
        module = self.raw_modules[name]
        return getattr(module, "module", module)

    @property
    def is_gan(self):
        """True when a discriminator is trained (waveform family)."""
        return "discriminator" in self.modules

    def _inputs(self, batch):
        """Model input and relative lengths from the batch (video or audio)."""
        if hasattr(batch, "roi"):
            return batch.roi
        return batch.sig

    def _speaker(self, batch):
        speaker = getattr(batch, "speaker", None)
        if isinstance(speaker, sb.dataio.batch.PaddedData):
            speaker = speaker.data
        if speaker is not None and not speaker.is_floating_point():
            speaker = speaker.reshape(-1)  # table rows: [B, 1] -> [B]
        return speaker

    def _target_mel(self, sig):
        return compute_mel(sig)

    # ------------------------------------------------------------ forward
    def compute_forward(self, batch, stage):
        """Run the model; returns a dict with ``out``, ``lens`` and targets."""
        batch = batch.to(self.device)
        sig, sig_lens = batch.sig
        inputs, lens = self._inputs(batch)
        outputs = self.modules.model(
            inputs, lens, speaker=self._speaker(batch), audio=sig
        )
        outputs = dict(outputs)
        outputs["sig"], outputs["lens"] = sig, sig_lens
        return outputs

    def _reconstruction_losses(self, out, sig, lens):
        """Mel L1 (+L2) between ``out`` (wave or mel) and the target audio."""
        target = self._target_mel(sig)
        pred = compute_mel(out) if self.raw_model.output_kind == "wave" else out
        l1 = metrics.masked_mel_l1(pred, target, lens)
        losses = {"mel_l1": l1}
        if self.hparams.mel_l2_weight:
            frames = min(pred.shape[1], target.shape[1])
            losses["mel_l2"] = ((pred[:, :frames] - target[:, :frames]) ** 2).mean()
        return losses, pred

    def compute_objectives(self, predictions, batch, stage):
        """Generator/regression loss; in VALID/TEST also collect STOI/PESQ."""
        out, sig, lens = predictions["out"], predictions["sig"], predictions["lens"]
        losses, pred_mel = self._reconstruction_losses(out, sig, lens)
        loss = self.hparams.mel_loss_weight * losses["mel_l1"]
        if "mel_l2" in losses:
            loss = loss + self.hparams.mel_l2_weight * losses["mel_l2"]

        if self.is_gan and stage == sb.Stage.TRAIN:
            adv = predictions.get("adversarial")
            g_losses = self.hparams.generator_loss(
                stage,
                y_hat=out.unsqueeze(1),
                y=sig.unsqueeze(1),
                scores_fake=adv and adv["scores_fake"],
                feats_fake=adv and adv["feats_fake"],
                feats_real=adv and adv["feats_real"],
            )
            loss = loss + g_losses["G_loss"]
            for key in ("G_mse_fake_loss", "G_feat_match_loss", "G_stft_loss_mg"):
                if key in g_losses:
                    losses[key] = g_losses[key]

        if "a2a_out" in predictions:  # joint strategy: Algorithm 1's audio path
            a2a_losses, _ = self._reconstruction_losses(
                predictions["a2a_out"], sig, lens
            )
            losses["a2a_mel_l1"] = a2a_losses["mel_l1"]
            loss = loss + self.hparams.a2a_weight * a2a_losses["mel_l1"]

        losses["loss"] = loss
        self._accumulate(losses)
        if stage != sb.Stage.TRAIN:
            self._score_utterances(out, sig, lens, pred_mel, stage)
        return loss

    # ------------------------------------------------------------ metrics
    def _accumulate(self, losses):
        for key, value in losses.items():
            total, count = self._loss_sums.get(key, (0.0, 0))
            self._loss_sums[key] = (total + float(value.detach()), count + 1)

    def _waveform(self, out, pred_mel):
        if self.raw_model.output_kind == "wave":
            return out
        vocoder = self.hparams.vocoder
        if vocoder is not None:
            with torch.no_grad():
                return vocoder(pred_mel.transpose(1, 2)).squeeze(1)
        return mel_to_wave_griffinlim(pred_mel)

    def _score_utterances(self, out, sig, lens, pred_mel, stage):
        # Validation scores a sample (metrics are slow on CPU); test scores all
        # (a baseline run is a validation in disguise).
        limit = self.hparams.metric_utterances
        if stage == sb.Stage.TEST and not getattr(self, "baseline_run", False):
            limit = self.hparams.test_metric_utterances or math.inf
        budget = limit - len(self._scores["stoi"])
        if budget <= 0:
            return
        wave = self._waveform(out, pred_mel).float().cpu()
        sig = sig.float().cpu()
        n_samples = torch.round(lens.cpu() * sig.shape[1]).long()
        for i in range(min(budget, sig.shape[0])):
            ref, gen = sig[i, : n_samples[i]], wave[i, : n_samples[i]]
            self._scores["stoi"].append(metrics.stoi(gen, ref))
            self._scores["estoi"].append(metrics.estoi(gen, ref))
            self._scores["pesq"].append(metrics.pesq(gen, ref))

    def stage_stats(self):
        """Averages of the losses and metrics collected in the current stage.

        Example
        -------
        >>> brain = V2SBrain.__new__(V2SBrain)
        >>> brain._loss_sums = {"loss": (3.0, 2)}
        >>> brain._scores = {"stoi": [0.5, 0.7], "estoi": [], "pesq": [float("nan")]}
        >>> brain.stage_stats()
        {'loss': 1.5, 'stoi': 0.6}
        """
        stats = {key: total / count for key, (total, count) in self._loss_sums.items()}
        for key, values in self._scores.items():
            values = [v for v in values if not math.isnan(v)]
            if values:
                stats[key] = sum(values) / len(values)
        return stats

    # ------------------------------------------------------------ training
    def fit_batch(self, batch):
        """One step; for the GAN, a discriminator step then a generator step."""
        if not self.is_gan:
            return super().fit_batch(batch)
        adversarial = self.optimizer_step >= self.hparams.gan_warmup_steps
        with self.training_ctx:
            predictions = self.compute_forward(batch, sb.Stage.TRAIN)
        out, sig = predictions["out"].unsqueeze(1), predictions["sig"].unsqueeze(1)
        batch_size = sig.shape[0]

        if adversarial:
            # One discriminator pass over real and fake together: a single
            # forward per backward keeps DDP's gradient hooks simple.
            with self.training_ctx:
                scores, _ = self.modules.discriminator(torch.cat([sig, out.detach()]))
                real, fake = _split_real_fake(scores, batch_size)
                loss_d = self.hparams.discriminator_loss(fake, real)["D_loss"]
            self._step(loss_d, self.optimizer_d)
            self._accumulate({"D_loss": loss_d})

            with self.training_ctx:
                scores, feats = self.modules.discriminator(torch.cat([sig, out]))
                _, scores_fake = _split_real_fake(scores, batch_size)
                feats_real, feats_fake = _split_real_fake(feats, batch_size)
                predictions["adversarial"] = {
                    "scores_fake": scores_fake,
                    "feats_fake": feats_fake,
                    "feats_real": [[f.detach() for f in fs] for fs in feats_real],
                }
        with self.training_ctx:
            loss_g = self.compute_objectives(predictions, batch, sb.Stage.TRAIN)
        self._step(loss_g, self.optimizer)
        # The generator's backward also reached the discriminator: drop that.
        self.optimizer_d.zero_grad(set_to_none=True)
        self.optimizer_step += 1
        return loss_g.detach().cpu()

    def _step(self, loss, optimizer):
        self.check_loss_isfinite(loss)
        self.scaler.scale(loss).backward()
        self.scaler.unscale_(optimizer)
        params = [p for group in optimizer.param_groups for p in group["params"]]
        torch.nn.utils.clip_grad_norm_(params, self.max_grad_norm)
        if not self.scaler.is_enabled() and self.skip_nonfinite_grads:
            self.check_gradients()
        self.scaler.step(optimizer)
        self.scaler.update()
        optimizer.zero_grad(set_to_none=True)

    def init_optimizers(self):
        """Generator optimizer (decoder in its own lr group) and, for the GAN,
        the discriminator's; both registered with the checkpointer."""
        training_model = self._unwrapped("model")
        decoder_names = decoder_parameter_names(training_model)
        groups = {"decoder": [], "rest": []}
        for name, param in training_model.named_parameters():
            if param.requires_grad:
                groups["decoder" if name in decoder_names else "rest"].append(param)
        param_groups = [{"params": p, "name": n} for n, p in groups.items() if p]
        self.optimizer = self.opt_class(param_groups)
        scale = self.hparams.decoder_lr_scale
        for group in self.optimizer.param_groups:
            if group["name"] == "decoder":
                group["lr"] *= scale
                group["initial_lr"] = group["lr"]
        self.optimizers_dict = {"optimizer": self.optimizer}
        self.schedulers = {}
        sch_class = self.hparams.sch_class
        if sch_class is not None:
            self.schedulers["scheduler"] = sch_class(self.optimizer)
        if self.is_gan:
            opt_d = self.hparams.opt_class_discriminator
            self.optimizer_d = opt_d(self._unwrapped("discriminator").parameters())
            self.optimizers_dict["optimizer_d"] = self.optimizer_d
            sch_d = self.hparams.sch_class_discriminator
            if sch_d is not None:
                self.schedulers["scheduler_d"] = sch_d(self.optimizer_d)
        # Registered here, as SpeechBrain's recipes do: built at run time from
        # the YAML's opt_class/sch_class (they need the parameters), they
        # cannot be among the recoverables its checkpointer declares.
        if self.checkpointer is not None:
            for name, obj in {**self.optimizers_dict, **self.schedulers}.items():
                self.checkpointer.add_recoverable(name, obj)

    # ------------------------------------------------------------ batch norm
    def _fit_train(self, train_set, epoch, enable):
        # Kept for recalibrate_batch_norm, which runs before validation.
        self._train_loader = train_set
        return super()._fit_train(train_set, epoch, enable)

    def _fit_valid(self, valid_set, epoch, enable):
        if valid_set is not None and self.hparams.bn_recalibration_batches:
            self.recalibrate_batch_norm(epoch=epoch)
        return super()._fit_valid(valid_set, epoch, enable)

    @torch.no_grad()
    def recalibrate_batch_norm(self, loader=None, batches=None, epoch=0):
        """Re-estimate the batch norms' running statistics with the current
        weights: the equal-weight average over ``batches`` training batches,
        forward only, the rest of the model in eval mode (no dropout).

        During an epoch the running statistics are a moving average over the
        last ~20 steps' batch statistics, each computed with other weights;
        the waveform GAN's weights move fast enough that this average was not
        the trained model's (tiny_wave A2A: valid mel L1 2.8 -> 1.6 -> 2.5 at
        epochs 7-9 in eval mode, 1.28 -> 1.26 -> 1.25 with recalibrated
        statistics, train mel L1 1.42 -> 1.43 -> 1.42). The batches are drawn
        from ``seed + epoch`` in a forked generator, so training draws the
        same crops with or without recalibration. Statistics sets that the
        forward pass does not reach (e.g. V2A's audio set) are left as they
        were; cross-modal layers recalibrate each set the forward pass uses.

        Arguments
        ---------
        loader : iterable, optional
            Training batches (default: the dataset of the last training
            epoch's loader, with its batch size and collate function).
        batches : int, optional
            How many (default: ``bn_recalibration_batches``).
        epoch : int
            Mixed into the seed, so that each epoch draws other batches.

        Returns
        -------
        int
            The number of batches used (0: no batch norm, or no data).
        """
        if batches is None:
            batches = self.hparams.bn_recalibration_batches
        model = self.modules.model
        norms = [
            m
            for m in model.modules()
            if isinstance(m, CrossModalBatchNorm)
            or (
                isinstance(m, torch.nn.modules.batchnorm._BatchNorm)
                and m.track_running_stats
            )
        ]
        if not norms or not batches:
            return 0
        seed = int(self.hparams.seed) + int(epoch or 0)
        saved = {id(m): _reset_running_stats(m) for m in norms}
        used = 0
        was_training = model.training
        try:
            model.eval()
            for norm in norms:
                norm.train()
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                for batch in loader or self._recalibration_loader(batches, seed):
                    if used >= batches:
                        break
                    self.compute_forward(batch, sb.Stage.TRAIN)
                    used += 1
        finally:
            for norm in norms:
                _restore_unreached(norm, saved[id(norm)])
            model.train(was_training)
        return used

    def _recalibration_loader(self, batches, seed):
        """``batches`` batches of random training items (seeded)."""
        source = getattr(self, "_train_loader", None)
        dataset = getattr(source, "dataset", None)
        if dataset is None:
            return []
        size = source.batch_size or 1
        order = torch.randperm(
            len(dataset), generator=torch.Generator().manual_seed(seed)
        )[: batches * size].tolist()
        return torch.utils.data.DataLoader(
            torch.utils.data.Subset(dataset, order),
            batch_size=size,
            collate_fn=source.collate_fn,
            drop_last=True,
        )

    # ------------------------------------------------------------ stages
    def on_stage_start(self, stage, epoch=None):
        """Reset the loss and metric accumulators."""
        self._loss_sums = {}
        self._scores = {key: [] for key in VALID_METRICS}

    def on_stage_end(self, stage, stage_loss, epoch=None):
        """Log, step schedulers, checkpoint on validation, save the best model."""
        stats = self.stage_stats()
        stats["loss"] = float(stage_loss)
        if stage == sb.Stage.TRAIN:
            self.train_stats = stats
            return
        train_logger = self.hparams.train_logger
        if stage == sb.Stage.VALID:
            for scheduler in getattr(self, "schedulers", {}).values():
                scheduler.step()
            meta = {"epoch": epoch, "lr": self.optimizer.param_groups[0]["lr"]}
            if train_logger is not None:
                train_logger.log_stats(
                    stats_meta=meta,
                    train_stats=getattr(self, "train_stats", None),
                    valid_stats=stats,
                )
            self.last_valid_stats = stats
            if self.checkpointer is not None:
                # The best score goes into this checkpoint (``_save``) before
                # the export: killed in between, a resumed run keeps an older
                # export rather than overwrite a better one with a worse one.
                improved = stats["mel_l1"] < self.best_mel_l1
                if improved:
                    self.best_mel_l1 = stats["mel_l1"]
                self.checkpointer.save_and_keep_only(
                    meta={**stats, "epoch": epoch},
                    min_keys=["mel_l1"],
                    num_to_keep=self.hparams.checkpoints_to_keep,
                )
                if improved:
                    self._export_best(stats)
        elif getattr(self, "baseline_run", False):
            if train_logger is not None:
                train_logger.log_stats(stats_meta={"epoch": 0}, valid_stats=stats)
            self.baseline_stats = stats
        else:
            if train_logger is not None:
                train_logger.log_stats(
                    stats_meta={"Epoch loaded": self._epoch_loaded()},
                    test_stats=stats,
                )
            self.test_stats = stats

    def _epoch_loaded(self):
        return self.hparams.epoch_counter.current

    @sb.utils.distributed.main_process_only
    def _export_best(self, stats):
        path = self.hparams.pretrained_decoder_path
        if path is None:
            return
        self.raw_model.save_pretrained(path)
        logger.info("Saved the best model (mel_l1 %.4f) to %s", stats["mel_l1"], path)

    # ------------------------------------------------------------ checkpoint
    @property
    def best_mel_l1(self):
        """Lowest validation mel L1 so far (that of the model saved to
        ``pretrained_decoder_path``); part of the checkpointed Brain state, so
        a resumed run does not replace that file with a worse epoch's."""
        return getattr(self, "_best_mel_l1", math.inf)

    @best_mel_l1.setter
    def best_mel_l1(self, value):
        self._best_mel_l1 = float(value)

    @sb.utils.checkpoints.mark_as_saver
    def _save(self, path):
        super()._save(path)  # SpeechBrain's step counters, as YAML
        with open(path, encoding="utf-8") as f:
            state = yaml.safe_load(f)
        state["best_mel_l1"] = self.best_mel_l1
        with open(path, "w", encoding="utf-8") as f:
            f.write(yaml.dump(state))

    @sb.utils.checkpoints.mark_as_loader
    def _recover(self, path, end_of_epoch):
        super()._recover(path, end_of_epoch)
        with open(path, encoding="utf-8") as f:
            state = yaml.safe_load(f)
        if "best_mel_l1" in state:
            self.best_mel_l1 = state["best_mel_l1"]
            return
        # A checkpoint from before the score was saved: the best validation
        # in the kept checkpoints' meta (the best one is always kept).
        checkpointer = getattr(self, "checkpointer", None)
        best = checkpointer and checkpointer.find_checkpoint(min_key="mel_l1")
        if best is not None:
            self.best_mel_l1 = best.meta["mel_l1"]


def _stat_sets(norm):
    """``[(mean, var, tracked)]`` buffers of a batch norm, one per set."""
    if isinstance(norm, CrossModalBatchNorm):
        return [norm.running_stats(m) for m in norm.modalities]
    return [(norm.running_mean, norm.running_var, norm.num_batches_tracked)]


def _reset_running_stats(norm):
    """Empty the running statistics so the next batches are averaged with
    equal weights; returns what :func:`_restore_unreached` needs.

    Example
    -------
    >>> import torch
    >>> bn = torch.nn.BatchNorm1d(2)
    >>> bn.running_var.fill_(4.0)
    tensor([4., 4.])
    >>> saved = _reset_running_stats(bn)
    >>> _ = bn.train()(torch.tensor([[0.0, 1.0], [2.0, 3.0]]))
    >>> _restore_unreached(bn, saved)
    >>> bn.running_var.tolist(), int(bn.num_batches_tracked), bn.momentum
    ([2.0, 2.0], 1, 0.1)
    """
    saved = {
        "sets": [tuple(t.clone() for t in s) for s in _stat_sets(norm)],
        "momentum": norm.momentum,
    }
    seen = set()
    for mean, var, tracked in _stat_sets(norm):
        if id(mean) in seen:  # cross_modal=False: every modality shares one set
            continue
        seen.add(id(mean))
        mean.zero_()
        var.fill_(1.0)
        tracked.zero_()
    # Cumulative average: CrossModalBatchNorm weighs batch n by
    # max(momentum, 1/n), torch's batch norm does it with momentum None.
    norm.momentum = 0.0 if isinstance(norm, CrossModalBatchNorm) else None
    return saved


def _restore_unreached(norm, saved):
    """Put back the momentum, and the statistics of the sets no batch reached."""
    norm.momentum = saved["momentum"]
    for (mean, var, tracked), old in zip(_stat_sets(norm), saved["sets"]):
        if int(tracked) == 0:
            mean.copy_(old[0])
            var.copy_(old[1])
            tracked.copy_(old[2])
